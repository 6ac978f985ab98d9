// The longest delay node's timers take: 2^31 - 1 ms. A longer one is cut to 1 ms (or refused),
// so a wait, timeout or interval meant to be long would end at once.
export const longestTimerMs = 2 ** 31 - 1;
