// Lives in audit/ because the replay reads it back from recorded results; sessions fill it in.
/** What the result record holds of the response: bounded by the capture limit, with a marker where it was cut. */
export interface CapturedResponse {
  status?: number;
  contentType?: string;
  body?: string;
  columns?: string[];
  rows?: (string | null)[][];
  tags?: string[];
  truncated?: boolean;
}
