// Calls to this service. URLs are relative to the page, so that a proxy's path prefix is kept.

const KEY_STORAGE = "gpuval.api-key";

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export class HttpError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function url(path, params = {}) {
  const target = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") {
      target.searchParams.set(name, String(value));
    }
  }
  return target;
}

async function send(target, init = {}) {
  const headers = { Accept: "application/json", ...(init.headers || {}) };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(target, { ...init, headers });
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      // Not problem+json: the status says enough.
    }
    throw new HttpError(response.status, problem);
  }
  return response.json();
}

export function getJSON(path, params) {
  return send(url(path, params));
}

/** Every item of a paged list, following `next_cursor`. */
export async function allItems(path, params = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await getJSON(path, { ...params, limit: 1000, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/**
 * Run the task functions at most `limit` at a time; results in order, as from allSettled.
 * `onSettled(index, result)`, if given, is told of each result as it comes.
 */
export async function settleAll(tasks, limit, onSettled = () => {}) {
  const results = new Array(tasks.length);
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const index = next++;
      try {
        results[index] = { status: "fulfilled", value: await tasks[index]() };
      } catch (reason) {
        results[index] = { status: "rejected", reason };
      }
      onSettled(index, results[index]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
