// The page's side of the engine worker: one request at a time, each with a deadline. A request
// that outlives its deadline (a runaway evaluation) gets the worker terminated and a fresh one
// started, so the page never hangs. The deadline runs only once the worker is ready: loading the
// wasm is not the evaluation's fault. It never renders anything and never debounces: callers do.

export class EngineTimeout extends Error {
  constructor(limitMs) {
    super(`evaluation stopped after ${formatSeconds(limitMs)}`);
    this.limitMs = limitMs;
  }
}

export function formatSeconds(ms) {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

export class EngineClient {
  /**
   * @param {URL} workerUrl the bundled worker module
   * @param {number} timeoutMs how long one request may take once sent
   * @param {(version: string) => void} onReady called each time a worker has loaded the engine
   */
  constructor(workerUrl, timeoutMs, onReady) {
    this.workerUrl = workerUrl;
    this.timeoutMs = timeoutMs;
    this.onReady = onReady;
    this.generation = 0;
    this.nextId = 1;
    this.queue = [];
    this.current = null;
    this.start();
  }

  start() {
    this.generation += 1;
    this.ready = false;
    this.fatal = null;
    this.worker = new Worker(this.workerUrl, { type: 'module', name: `sigil-engine-${this.generation}` });
    this.worker.onmessage = (event) => this.received(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      // A worker that failed to start never becomes ready: later requests fail at once, not hang.
      this.fatal = new Error(`the engine worker failed: ${event.message || 'it could not start'} (reload the page)`);
      this.failAll(this.fatal);
    };
  }

  received(data) {
    if (data.type === 'ready') {
      this.ready = true;
      this.onReady?.(data.version);
      this.pump();
      return;
    }
    if (data.type === 'fatal') {
      this.fatal = new Error(data.error);
      this.failAll(this.fatal);
      return;
    }
    const current = this.current;
    if (!current || current.id !== data.id) return;
    clearTimeout(current.timer);
    this.current = null;
    if (data.ok) current.resolve(data.result);
    else current.reject(new Error(data.error));
    this.pump();
  }

  failAll(error) {
    const pending = this.current ? [this.current, ...this.queue] : this.queue;
    if (this.current) clearTimeout(this.current.timer);
    this.current = null;
    this.queue = [];
    for (const request of pending) request.reject(error);
  }

  /** Sends `op(args)`; resolves with the worker's result or rejects (EngineTimeout on a runaway). */
  request(op, args) {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, op, args, resolve, reject });
      this.pump();
    });
  }

  pump() {
    if (!this.ready || this.current || this.queue.length === 0) return;
    const request = this.queue.shift();
    this.current = request;
    request.timer = setTimeout(() => this.runaway(request), this.timeoutMs);
    this.worker.postMessage({ id: request.id, op: request.op, args: request.args });
  }

  /** The request took too long: the only way to stop wasm mid-call is to end its worker. */
  runaway(request) {
    if (this.current !== request) return;
    this.worker.terminate();
    this.current = null;
    const waiting = this.queue;
    this.queue = [];
    this.start();
    request.reject(new EngineTimeout(this.timeoutMs));
    // Requests queued behind the runaway still deserve an answer from the fresh worker.
    for (const next of waiting) this.queue.push(next);
  }
}
