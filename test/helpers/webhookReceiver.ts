// A local HTTP endpoint that receives webhooks and checks them with the official pusher SDK.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pusher from 'pusher';

export interface ReceivedEvent {
  name: string;
  channel: string;
  [k: string]: unknown;
}

export class WebhookReceiver {
  readonly events: ReceivedEvent[] = [];
  invalid = 0;
  private server!: Server;
  url = '';

  constructor(private readonly app: { id: string; key: string; secret: string }) {}

  async start(): Promise<this> {
    const sdk = new Pusher({ appId: this.app.id, key: this.app.key, secret: this.app.secret, host: '127.0.0.1' });
    this.server = createServer((req, res) => {
      let rawBody = '';
      req.on('data', (d: Buffer) => (rawBody += d.toString()));
      req.on('end', () => {
        const hook = sdk.webhook({ headers: req.headers as Record<string, string>, rawBody });
        if (hook.isValid()) this.events.push(...(hook.getEvents() as unknown as ReceivedEvent[]));
        else this.invalid++;
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  named(name: string, channel?: string): ReceivedEvent[] {
    return this.events.filter((e) => e.name === name && (channel === undefined || e.channel === channel));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
