// fetch for the pages (static/session.js re-exports it): one error type for an error answer
// (ApiError: status, and the application/problem+json body with title, detail and field
// errors), one for no answer (NetworkError), and the text to show for either.

const UNREACHABLE = 'The server cannot be reached. Try again in a moment.';

/**
 * An error answer: its status and its RFC 9457 problem (title, detail, `errors` per field,
 * `code`), or the OAuth error of the token endpoint. `message` is the text to show.
 */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem));
    this.status = status;
    this.problem = problem || {};
  }

  get title() {
    return this.problem.title || '';
  }

  get detail() {
    return this.problem.detail || this.problem.error_description || '';
  }

  /** The problem's field errors: [{field, message}]. */
  get fieldErrors() {
    const list = this.problem.error === 'invalid_grant' ? [] : this.problem.errors;
    return Array.isArray(list) ? list.filter((e) => e && typeof e.field === 'string' && e.message) : [];
  }
}

/** The request never got an answer (offline, server down). */
export class NetworkError extends Error {
  constructor() {
    super(UNREACHABLE);
  }
}

function problemText(status, p) {
  if (!p) return `Request failed (HTTP ${status})`;
  if (p.error === 'invalid_grant') return 'Wrong email or password.';
  return p.detail || p.error_description || p.title || `Request failed (HTTP ${status})`;
}

/** The problem (or OAuth error) an error answer carries, or null. */
export async function readProblem(resp) {
  if (!/json/.test(resp.headers.get('content-type') || '')) return null;
  try {
    return await resp.json();
  } catch {
    return null;
  }
}

/** fetch() that throws NetworkError when there is no answer (JSON is asked for unless `accept` says otherwise). */
export async function send(url, init = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  try {
    return await fetch(url, { ...init, headers });
  } catch {
    throw new NetworkError();
  }
}

/** The answer when it is a success; an ApiError (with its problem) when it is not. */
export async function okOrThrow(resp) {
  if (!resp.ok) throw new ApiError(resp.status, await readProblem(resp));
  return resp;
}

/** An anonymous API call: the successful Response, or ApiError / NetworkError. */
export async function request(url, init) {
  return okOrThrow(await send(url, init));
}

/** The session is over (the refresh token was refused) or there is none. */
export class AuthError extends Error {}

/** What to tell the user about a failed call. */
export function errorText(e) {
  return e instanceof ApiError || e instanceof NetworkError || e instanceof AuthError ? e.message : UNREACHABLE;
}
