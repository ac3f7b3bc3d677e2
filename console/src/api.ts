// The REST API, same origin, with Basic auth from the login (kept in sessionStorage).

const KEY = "callplane.credentials";

export interface Credentials {
  authId: string;
  secret: string; // the auth token or an API key's secret
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(describe(status, body));
  }
}

function describe(status: number, body: unknown): string {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === "string") return error;
  if (error && typeof error === "object") {
    return Object.entries(error)
      .map(([field, why]) => `${field}: ${String(why)}`)
      .join("; ");
  }
  return `HTTP ${status}`;
}

export function loadCredentials(): Credentials | null {
  const raw = sessionStorage.getItem(KEY);
  return raw ? (JSON.parse(raw) as Credentials) : null;
}

export function saveCredentials(credentials: Credentials | null): void {
  if (credentials) sessionStorage.setItem(KEY, JSON.stringify(credentials));
  else sessionStorage.removeItem(KEY);
}

function send(credentials: Credentials, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {
    Authorization: `Basic ${btoa(`${credentials.authId}:${credentials.secret}`)}`,
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(apiUrl(credentials, path), {
    method,
    headers,
    credentials: "omit", // a 401 must reach the page, not open the browser's log-in prompt
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export function apiUrl(credentials: Credentials, path: string): string {
  return `/v1/Account/${encodeURIComponent(credentials.authId)}/${path}`;
}

export async function api<T = Record<string, unknown>>(
  credentials: Credentials,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await send(credentials, method, path, body);
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : {};
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed as T;
}

/** A GET whose answer is text (an export), not JSON. */
export async function apiText(credentials: Credentials, path: string): Promise<string> {
  const response = await send(credentials, "GET", path);
  const text = await response.text();
  if (!response.ok) {
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not the API's JSON error body: the status says enough
    }
    throw new ApiError(response.status, parsed);
  }
  return text;
}

export interface Listing<T> {
  meta: { total_count: number; limit: number; offset: number };
  objects: T[];
}

/** Every object of a list resource, page by page (the API's pages hold at most 20). */
export async function listAll<T>(credentials: Credentials, path: string): Promise<T[]> {
  const found: T[] = [];
  for (let offset = 0; ; offset += 20) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api<Listing<T>>(credentials, "GET", `${path}${sep}limit=20&offset=${offset}`);
    found.push(...page.objects);
    if (offset + 20 >= page.meta.total_count) return found;
  }
}
