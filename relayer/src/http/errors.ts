/** The HTTP API's error answers: `{ "error": code, "message": text }` with a fitting status. */

/** An error answered as `status` with `{ error: code, message }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The client went away (reset or closed) before its request was read: nothing to answer, not a node fault. */
export class ClientAborted extends Error {}
