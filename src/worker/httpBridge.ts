// A worker's HTTP side: health endpoints answered locally; API requests read here with a body-size cap,
// refused here past their app's API rate limit (apiRateGate.ts), stamped in host-wide order
// (ipc/requestOrder.ts), and either answered here (ordinary publishes the primary cannot refuse:
// publishAdmission.ts) or handed to the primary, whose answer is written back on the same connection.
import { STATUS_CODES } from 'node:http';
import type { Config } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { PublishEvent } from '../http/events.ts';
import { type HealthAnswer, healthResponse, usageBody } from '../http/health.ts';
import type { HttpRequestMessage, OwnPublishPositions, PrimaryToWorker, PublishesTaken, WorkerToPrimary } from '../ipc/messages.ts';
import type { RequestSequence } from '../ipc/requestOrder.ts';
import type { Logger } from '../log.ts';
import { FIELD, type WorkerCounters } from '../metrics/workerCounters.ts';
import type { HttpResponse, TemplatedApp } from '../transport/uws.ts';
import { ApiPrecheck } from './apiPrecheck.ts';
import type { ApiRateGate } from './apiRateGate.ts';
import type { LocalPublishOrder } from './localPublishOrder.ts';
import { type AdmittedPublish, PublishAdmission } from './publishAdmission.ts';

interface Pending {
  res: HttpResponse;
  aborted: boolean;
  timer: NodeJS.Timeout;
}

export interface HttpBridgeDeps {
  config: Config;
  log: Logger;
  /** This worker's metric counters: health checks count as HTTP calls here (countHealthCall). */
  counters: WorkerCounters;
  toPrimary: (m: Extract<WorkerToPrimary, { seq: number }>) => void;
  sequence: RequestSequence;
  rateGate: ApiRateGate;
  /** Whether an admitted publish may reach this worker's V1 sockets before the primary has seen it. */
  localOrder: LocalPublishOrder;
  /**
   * Delivers the V1 frames of the admitted publish stamped `seq` to this worker's sockets, at once or after a short
   * hold; its V2 frames too when this worker numbered its messages (`local`).
   */
  deliverV1: (seq: number, app: number, events: readonly PublishEvent[], hold: boolean, local: OwnPublishPositions | undefined) => void;
  /** Message ids and positions for an admitted publish about to be delivered here, if this worker can give them (ChannelDelivery.assignPositions). */
  assignPositions: (app: number, events: readonly PublishEvent[]) => OwnPublishPositions | undefined;
  /** Whether an admitted publish may be held before its V1 frames go out (worker/fanoutHold.ts). */
  mayHold: (app: number, events: readonly PublishEvent[]) => boolean;
  /**
   * Delivers an admitted publish the primary has taken, publish `i` of `taken`, whose messages' ids and positions
   * start at `first` (the V2 side only when `deliveredV1`; nothing when the primary did not take it, count -1).
   */
  deliverTaken: (admitted: AdmittedPublish, taken: PublishesTaken, i: number, first: number) => void;
  /** Whether publishes with recipients are streaming through this thread (then they go via the primary). */
  broadcasting: () => boolean;
  isDraining: () => boolean;
}

const decoder = new TextDecoder();

export class HttpBridge {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly precheck: ApiPrecheck;
  private readonly admission: PublishAdmission;
  /** Reused by publishTaken for the publishes the primary skipped (none, short of a bug): no array per publish. */
  private readonly skipped: AdmittedPublish[] = [];
  /** Set by the primary while Redis is unreachable. */
  degraded = false;

  constructor(private readonly deps: HttpBridgeDeps) {
    this.precheck = new ApiPrecheck(deps.config);
    this.admission = new PublishAdmission(deps.config);
  }

  /**
   * `/up` counts in the HTTP call and byte metrics, as Sockudo counts it: under `app_id="system"` (the counters' row
   * after the apps), and `/up/{appId}` under that app.
   */
  private countHealthCall(path: string, h: HealthAnswer): void {
    const index = path === '/up' ? this.deps.config.apps.length : h.app;
    if (index === undefined) return;
    this.deps.counters.add(index, FIELD.httpCalls);
    this.deps.counters.add(index, FIELD.httpBytesSent, Buffer.byteLength(h.body));
  }

  get inFlight(): number {
    return this.pending.size;
  }

  attach(app: TemplatedApp): void {
    const health = (res: HttpResponse, path: string, head = false) => {
      const h = healthResponse(path, this.deps.config, this.deps.isDraining(), this.degraded);
      if (!head) this.countHealthCall(path, h);
      res.cork(() => {
        res.writeStatus(statusLine(h.status)).writeHeader('Content-Type', 'text/plain');
        if (h.header) res.writeHeader('X-Health-Check', h.header);
        // HEAD (uptime monitors use it): the same status and headers, no body. (This uWS build aborts the process
        // when a handler answers with endWithoutBody, so an empty end() it is.)
        res.end(head ? '' : h.body);
      });
    };
    for (const path of ['/up', '/ready', '/live']) {
      app.get(path, (res) => health(res, path));
      app.head(path, (res) => health(res, path, true));
    }
    app.get('/up/:appId', (res, req) => health(res, req.getUrl()));
    app.head('/up/:appId', (res, req) => health(res, req.getUrl(), true));
    app.get('/usage', (res) => {
      const body = usageBody();
      res.cork(() => {
        res.writeStatus(statusLine(200)).writeHeader('Content-Type', 'application/json').end(body);
      });
    });
    app.any('/apps/*', (res, req) => {
      const url = req.getUrl();
      // Push routes carry their capability and device identity in headers (read now: uWS frees req after this call).
      const push = url.includes('/push/')
        ? {
            capability: req.getHeader('x-sockudo-push-capability'),
            identityToken: req.getHeader('x-sockudo-device-identity-token') || req.getHeader('authorization').replace(/^Bearer\s+/i, ''),
            rotate: req.getHeader('x-sockudo-rotate-device-identity-token') === 'true',
            // Any value, as Sockudo reads it (present = skip the quota checks; push-admin only).
            quotaOverride: req.getHeader('x-sockudo-push-quota-override') !== '',
          }
        : undefined;
      this.forward(res, req.getCaseSensitiveMethod().toUpperCase(), url, req.getQuery() ?? '', req.getHeader('content-type'), req.getHeader('content-length'), req.getHeader('x-idempotency-key'), push);
    });
    // Any other route (outside /apps): Sockudo's fallback, a text/plain 404.
    app.any('/*', (res) => {
      res.cork(() => res.writeStatus(statusLine(404)).writeHeader('Content-Type', 'text/plain').end('404 NOT FOUND'));
    });
  }

  private forward(res: HttpResponse, method: string, path: string, query: string, contentType: string, contentLength: string, idempotencyKey: string, push: HttpRequestMessage['push']): void {
    const cap = this.deps.config.http_max_body_kb * 1024;
    const requestId = this.nextId++;
    const p: Pending = { res, aborted: false, timer: undefined as unknown as NodeJS.Timeout };
    res.onAborted(() => {
      p.aborted = true;
      this.finish(requestId);
    });
    if (Number(contentLength) > cap) return this.tooLarge(p);

    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (p.aborted) return;
      size += chunk.byteLength;
      if (size > cap) return this.tooLarge(p);
      // uWS neuters the chunk after this callback: a body in one chunk is decoded straight from it, others copied.
      if (!isLast) return void chunks.push(Buffer.from(chunk.slice(0)));
      const body = chunks.length === 0 ? Buffer.from(chunk).toString('utf8') : Buffer.concat([...chunks, Buffer.from(chunk)]).toString('utf8');
      const verifiedAppId = this.precheck.verifiedAppId(method, path, query, body);
      // Past its app's API rate limit: answered here, with no stamp taken (nothing follows from it).
      const refusal = verifiedAppId === undefined ? undefined : this.deps.rateGate.pass(verifiedAppId, size);
      if (refusal) return writeError(res, refusal);
      const admitted = verifiedAppId === undefined ? undefined : this.admission.admit({ method, path, contentType, idempotencyKey, body }, verifiedAppId);
      // Stamped right before it is posted, in the same turn: the primary waits for every stamp it has not seen.
      const seq = this.deps.sequence.take();
      if (admitted) {
        const { app, events, batch, answer, positionChannels, ephemeralEvents } = admitted;
        // At once when publishes are not streaming; while they stream, held here when the audience is large
        // (fanoutHold.ts), else through the primary, whose answers batch them.
        const now = admitted.primaryCaughtUp && !this.deps.broadcasting();
        const held = !now && this.deps.mayHold(app, events);
        const deliveredV1 = (now || held) && this.deps.localOrder.claim(seq);
        // Numbered in claim order, which is stamp order: the primary adopts these positions.
        const local = deliveredV1 && this.admission.othersNumberedHere(admitted) ? this.deps.assignPositions(app, events) : undefined;
        admitted.seq = seq;
        admitted.deliveredV1 = deliveredV1;
        admitted.local = local;
        this.deps.toPrimary({
          type: 'accepted-publish',
          seq,
          app,
          body,
          batch,
          positionChannels,
          ephemeralEvents,
          receivedBytes: size,
          sentBytes: answer.length,
          ...(local ? { positions: local } : {}),
        });
        try {
          res.cork(() => res.writeStatus('200 OK').writeHeader('Content-Type', 'application/json').end(answer));
        } finally {
          // After the answer (a publish to thousands of sockets must not hold the 200 back), and whatever it did:
          // the primary was told these frames are out.
          if (deliveredV1) this.deps.deliverV1(seq, app, events, held, local);
        }
        return;
      }
      p.timer = setTimeout(() => this.timeout(requestId), this.deps.config.http_request_timeout * 1000);
      this.pending.set(requestId, p);
      this.deps.toPrimary({
        type: 'http-request',
        seq,
        requestId,
        method,
        path,
        query,
        contentType,
        idempotencyKey,
        body,
        remoteAddress: decoder.decode(res.getRemoteAddressAsText()),
        ...(verifiedAppId === undefined ? {} : { verifiedAppId }),
        ...(push ? { push } : {}),
      });
    });
  }

  /** A body over the cap: stop reading; this answer is final. (A method: tsx names every named closure when it is made.) */
  private tooLarge(p: Pending): void {
    p.aborted = true;
    writeError(p.res, new HttpError('payloadTooLarge', `Request body exceeds ${this.deps.config.http_max_body_kb} KiB`));
  }

  /**
   * The primary has taken the oldest publish answered here (publish `i` of `m`, its messages from `first` in the
   * per-message columns) and delivered it to the other workers: now this one.
   */
  publishTaken(m: PublishesTaken, i: number, first: number): void {
    const seq = m.seqs[i];
    const skipped = this.skipped;
    skipped.length = 0;
    const admitted = this.admission.taken(seq, skipped);
    if (skipped.length > 0 || !admitted) {
      this.deps.log.error({ seq, skipped: skipped.map((p) => p.seq), held: admitted !== undefined }, 'the primary answered publishes out of order; unanswered ones were not delivered');
    }
    if (admitted) this.deps.deliverTaken(admitted, m, i, first);
  }

  /** The primary's answer. */
  respond(m: Extract<PrimaryToWorker, { type: 'http-response' }>): void {
    const p = this.finish(m.requestId);
    if (!p || p.aborted) return;
    p.res.cork(() => {
      p.res.writeStatus(statusLine(m.status)).writeHeader('Content-Type', m.contentType);
      for (const [k, v] of Object.entries(m.headers ?? {})) p.res.writeHeader(k, v);
      p.res.end(m.body);
    });
  }

  private timeout(requestId: number): void {
    const p = this.finish(requestId);
    if (!p || p.aborted) return;
    this.deps.log.warn({ requestId }, 'primary did not answer an API request in time');
    writeError(p.res, new HttpError('serviceUnavailable', 'The server did not answer in time'));
  }

  private finish(requestId: number): Pending | undefined {
    const p = this.pending.get(requestId);
    if (!p) return undefined;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    return p;
  }
}

export function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

function writeError(res: HttpResponse, err: HttpError): void {
  res.cork(() => {
    res.writeStatus(statusLine(err.status)).writeHeader('Content-Type', 'application/json');
    for (const [k, v] of Object.entries(err.headers ?? {})) res.writeHeader(k, v);
    res.end(err.toBody());
  });
}
