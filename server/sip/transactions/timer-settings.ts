/** RFC 3261 §17.1.1.1 / Table 4 base timers (ms); configurable per stack. */
export interface TimerSettings {
  /** RTT estimate, default 500 ms. */
  T1?: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  T2?: number;
  /** Maximum duration a message remains in the network, default 5 s. */
  T4?: number;
}

/** The RFC 3261 Table 4 timers derived from T1/T2/T4 (values for unreliable transports). */
export interface TransactionTimers {
  T1: number;
  T2: number;
  T4: number;
  /** INVITE transaction timeout (§17.1.1.2). */
  TIMER_B: number;
  /** Wait time for response retransmits in INVITE client Completed (§17.1.1.2), > 32 s. */
  TIMER_D: number;
  /** Non-INVITE transaction timeout (§17.1.2.2). */
  TIMER_F: number;
  /** Wait time for ACK receipt (§17.2.1). */
  TIMER_H: number;
  /** Wait time for ACK retransmits (§17.2.1). */
  TIMER_I: number;
  /** Wait time for non-INVITE request retransmits (§17.2.2). */
  TIMER_J: number;
  /** Wait time for response retransmits in non-INVITE client Completed (§17.1.2.2). */
  TIMER_K: number;
  /** RFC 6026 §8.7: how long an INVITE server transaction stays Accepted after a 2xx. */
  TIMER_L: number;
  /** RFC 6026 §8.4: how long an INVITE client transaction stays Accepted after a 2xx, on every transport. */
  TIMER_M: number;
}

export const DEFAULT_T1 = 500;
export const DEFAULT_T2 = 4000;
export const DEFAULT_T4 = 5000;

export function resolveTimers(settings: TimerSettings = {}): TransactionTimers {
  const T1 = settings.T1 ?? DEFAULT_T1;
  const T2 = settings.T2 ?? DEFAULT_T2;
  const T4 = settings.T4 ?? DEFAULT_T4;
  return {
    T1,
    T2,
    T4,
    TIMER_B: 64 * T1,
    TIMER_D: Math.max(32_000, 64 * T1),
    TIMER_F: 64 * T1,
    TIMER_H: 64 * T1,
    TIMER_I: T4,
    TIMER_J: 64 * T1,
    TIMER_K: T4,
    TIMER_L: 64 * T1,
    TIMER_M: 64 * T1,
  };
}
