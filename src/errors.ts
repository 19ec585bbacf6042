// Every error the server reports, in one table: WebSocket (pusher:error code, whether the socket closes)
// and HTTP API (status, code). Handlers refer to these by name and never build ad hoc error strings.

/**
 * Pusher close-code ranges: 4000–4099 do not reconnect, 4100–4199 reconnect with backoff,
 * 4200–4299 reconnect at once, 4300–4399 are errors that keep the connection open.
 */
export const WS_ERRORS = {
  invalidMessage: { code: 4000, fatal: false, message: 'Invalid message format' },
  missingEvent: { code: 4000, fatal: false, message: 'Invalid event name: Event name is required' },
  appNotFound: { code: 4001, fatal: true, message: 'Application does not exist' },
  appDisabled: { code: 4003, fatal: true, message: 'Application disabled' },
  appOverQuota: { code: 4004, fatal: true, message: 'Application is over connection quota' },
  originNotAllowed: { code: 4009, fatal: true, message: 'Origin not allowed' },
  unauthorized: { code: 4009, fatal: false, message: 'Authentication error: Channel requires authentication' },
  authRequired: { code: 4009, fatal: false, message: 'Authentication error: Authentication signature required for this channel' },
  overCapacity: { code: 4100, fatal: true, message: 'Over capacity' },
  ipOverQuota: { code: 4100, fatal: true, message: 'Over capacity: too many connections from this address' },
  slowConsumer: { code: 4100, fatal: true, message: 'Over capacity: the connection is not reading its messages fast enough' },
  presenceFull: { code: 4100, fatal: false, message: 'Over capacity' },
  presenceUnavailable: { code: 4100, fatal: false, message: 'Over capacity: presence is temporarily unavailable' },
  channelCapacity: { code: 4100, fatal: false, message: 'Over capacity: this server holds too many channels' },
  terminated: { code: 4009, fatal: true, message: 'You got disconnected by the app.' },
  signinTimeout: { code: 4009, fatal: true, message: 'Connection not authorized within timeout.' },
  signinInvalid: { code: 4009, fatal: false, message: 'Authentication error: Connection not authorized for signin.' },
  invalidPresenceData: { code: 4300, fatal: false, message: 'Channel error: Invalid presence data' },
  shuttingDown: { code: 4200, fatal: true, message: 'Server shutting down' },
  forceReconnect: { code: 4200, fatal: true, message: 'Force reconnect requested by the app.' },
  pongTimeout: { code: 4201, fatal: true, message: 'Pong reply not received in time' },
  invalidChannel: { code: 4300, fatal: false, message: 'Invalid channel name' },
  missingChannel: { code: 4300, fatal: false, message: 'Channel error: channel is required' },
  tooManySubscriptions: { code: 4300, fatal: false, message: 'Channel error: too many subscriptions on this connection' },
  clientEventRejected: { code: 4301, fatal: false, message: 'Client event rejected' },
  clientEventsDisabled: { code: 4301, fatal: false, message: 'Client events are not enabled for this app' },
  clientEventWrongChannel: { code: 4301, fatal: false, message: 'Client events can only be sent to private or presence channels' },
  clientEventNotSubscribed: { code: 4301, fatal: false, message: 'Client event rejected: the socket is not subscribed to this channel' },
  clientEventRateLimited: { code: 4301, fatal: false, message: 'Client event rejected due to rate limit' },
  /** The same, for an app with terminate_on_limit: the error, then close 4301. */
  clientEventRateLimitTerminate: { code: 4301, fatal: true, message: 'Client event rejected due to rate limit' },
  messageRateLimited: { code: 4301, fatal: false, message: 'Message rate limit exceeded' },
  messageRateLimitTerminate: { code: 4301, fatal: true, message: 'Message rate limit exceeded' },
  clientEventTooLarge: { code: 4301, fatal: false, message: 'Client event rejected: payload too large' },
  /** A `channel_history` request (worker/channelHistory.ts): Sockudo's texts with durable history off, its default. */
  historyV1: { code: 4000, fatal: false, message: 'Protocol error: channel_history is only supported on protocol V2' },
  historyNotSubscribed: { code: 4301, fatal: false, message: 'Client event error: the socket is not subscribed to this channel' },
  historyDisabled: { code: 4300, fatal: false, message: 'Channel error: Durable history is disabled by policy' },
  /** A V2 `presence_update` refused (worker/presenceUpdate.ts): Sockudo's AI-transport codes, the detail says why. */
  presenceUpdateInvalid: { code: 104009, fatal: false, message: 'presence_update is invalid' },
  presenceUpdateTooLarge: { code: 40009, fatal: false, message: 'presence_update data exceeds 1024 bytes' },
} as const satisfies Record<string, { code: number; fatal: boolean; message: string }>;
export type WsErrorName = keyof typeof WS_ERRORS;

/** HTTP API errors; bodies are always `{"error", "code", "status"}` as in Sockudo. */
export const HTTP_ERRORS = {
  missingAuth: { status: 400, code: 'invalid_input', message: 'Missing authentication query parameters' },
  invalidInput: { status: 400, code: 'invalid_input', message: 'Invalid input' },
  invalidJson: { status: 400, code: 'invalid_input', message: 'Request body is not valid JSON' },
  missingChannel: { status: 400, code: 'missing_channel_info', message: "Request must contain 'channels' (list) or 'channel' (string)" },
  limitExceeded: { status: 400, code: 'limit_exceeded', message: 'Limit exceeded' },
  authFailed: { status: 401, code: 'auth_failed', message: 'Invalid API signature' },
  forbidden: { status: 403, code: 'forbidden', message: 'Forbidden' },
  appNotFound: { status: 404, code: 'app_not_found', message: 'Application key not found or invalid: Invalid app key' },
  notFound: { status: 404, code: 'not_found', message: 'Not found' },
  methodNotAllowed: { status: 405, code: 'method_not_allowed', message: 'Method not allowed' },
  conflict: { status: 409, code: 'idempotency_conflict', message: 'Idempotency key was already used with a different payload' },
  /** Sockudo's history, mutable messages, annotations, presence history: off there by default, absent here. */
  featureDisabled: { status: 422, code: 'feature_disabled', message: 'Feature disabled' },
  payloadTooLarge: { status: 413, code: 'payload_too_large', message: 'Payload too large' },
  rateLimited: { status: 429, code: 'rate_limited', message: 'Too many requests for this app', headers: { 'Retry-After': '1' } },
  unsupportedMediaType: { status: 415, code: 'unsupported_media_type', message: "Expected request with 'Content-Type: application/json'" },
  serviceUnavailable: { status: 503, code: 'service_unavailable', message: 'Service unavailable' },
  localOnly: { status: 503, code: 'partial_delivery', message: 'Delivered on this host only', headers: { 'Retry-After': '1' } },
  inProgress: { status: 503, code: 'backpressure', message: 'Idempotent publish is still in progress', headers: { 'Retry-After': '1' } },
  internal: { status: 500, code: 'internal_error', message: 'Internal server error' },
} as const satisfies Record<string, { status: number; code: string; message: string; headers?: Record<string, string> }>;
export type HttpErrorName = keyof typeof HTTP_ERRORS;

/** Thrown by HTTP handlers; the router turns it into the JSON error body. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string> | undefined;
  constructor(name: HttpErrorName, detail?: string, headers?: Record<string, string>) {
    const e: { status: number; code: string; message: string; headers?: Record<string, string> } = HTTP_ERRORS[name];
    super(detail ?? e.message);
    this.status = e.status;
    this.code = e.code;
    this.headers = headers ?? e.headers;
  }
  toBody(): string {
    return JSON.stringify({ error: this.message, code: this.code, status: this.status });
  }
}
