// Calls to the hub's API with the token of this browser tab (if any). Reads work without a token in development.
// The token lives in sessionStorage: it is gone when the tab closes, and it is never put in a URL the server sees.
const TOKEN_KEY = "citysense.token";

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
}

// A login link carries a token in the fragment (/ui/#token=cs_...). It is never used unasked: the page drops it
// from the address bar at once, asks the hub whose token it is (whoIs) and keeps it only when the person at the
// screen confirms that identity, so a link from someone else cannot quietly log this tab in as another user.
export function tokenFromLink() {
  const m = location.hash.match(/^#token=([A-Za-z0-9_\-]+)$/);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + "#/map");
  return m[1];
}

export async function whoIs(candidate) {
  const resp = await fetch("/api/v1/auth/me", { headers: { "Accept": "application/json", "Authorization": "Bearer " + candidate } });
  if (!resp.ok) throw new ApiError(resp.status, "the login link's token is not valid (revoked or expired?)");
  return resp.json();
}

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function call(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!resp.ok) {
    const detail = data && data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : resp.statusText;
    throw new ApiError(resp.status, detail);
  }
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else if (v !== undefined && v !== null && v !== "") q.append(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}
