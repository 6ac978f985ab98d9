// Error reporters are the application's code (a logger call, say); one that throws must not
// change the answer a request gets, nor leave a rejection no one handles.

/** Wraps `report` so that whatever it throws is dropped. */
export function reportingSafely(report: (error: Error) => void): (error: Error) => void {
  return (error) => {
    try {
      report(error);
    } catch {
      // Nowhere better to send it: the answer already says the server failed.
    }
  };
}
