/** A protocol's listener: accepts connections on one address and runs sessions until stopped. */
export interface Listener {
  readonly protocol: string;
  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  start(): Promise<{ host: string; port: number }>;
  /** Stops accepting, then closes open sessions (recording their end). */
  stop(): Promise<void>;
}
