/**
 * Cross-origin access for the wallet dapp, served from another origin than the node (vite preview, a
 * static host). Only the origins of `http.corsOrigins` are admitted (`"*"`: any); with none configured no
 * CORS header is sent and browsers keep other origins' pages out, the safe default for a node whose
 * API also signs cooperative closes.
 */

/** How long a browser may cache a preflight answer, seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/** The `Access-Control-Allow-Origin` (and `Vary`) headers for a request from `origin`, if it is admitted. */
export function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (allowed.includes("*")) return { "access-control-allow-origin": "*" };
  if (origin !== undefined && allowed.includes(origin))
    return { "access-control-allow-origin": origin, vary: "Origin" };
  return allowed.length > 0 ? { vary: "Origin" } : {};
}

/** Whether a request from `origin` is admitted (a request without an `Origin` is not a browser's cross-origin one). */
export function corsAdmits(origin: string | undefined, allowed: readonly string[]): boolean {
  return origin === undefined || allowed.includes("*") || allowed.includes(origin);
}

/** The headers of a preflight answer for an admitted origin: the methods and the JSON content type. */
export function preflightHeaders(
  origin: string | undefined,
  allowed: readonly string[],
): Record<string, string> {
  return {
    ...corsHeaders(origin, allowed),
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": String(PREFLIGHT_MAX_AGE_S),
  };
}
