// The worker-side signature check (worker/apiPrecheck.ts): it may only ever mark a request verified when
// the primary's own check would accept it for the app in the path; everything else goes on unmarked.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { ApiPrecheck } from '../../src/worker/apiPrecheck.ts';

const config = loadConfig({
  env: {},
  fileContents: {
    apps: [
      { id: 'app-id', key: 'app-key', secret: 'app-secret' },
      { id: 'other-app', key: 'other-key', secret: 'other-secret' },
    ],
  },
});
const precheck = new ApiPrecheck(config);

/** Signs as the Pusher SDKs do (independent of src/auth). */
function signed(method: string, path: string, body: string, o: { key?: string; secret?: string; timestamp?: number } = {}): string {
  const params: Record<string, string> = {
    auth_key: o.key ?? 'app-key',
    auth_timestamp: String(o.timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
  };
  if (method === 'POST') params.body_md5 = createHash('md5').update(body).digest('hex');
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const signature = createHmac('sha256', o.secret ?? 'app-secret').update(`${method}\n${path}\n${canonical}`).digest('hex');
  return `${canonical}&auth_signature=${signature}`;
}

const BODY = JSON.stringify({ name: 'e', channel: 'c', data: '{}' });

describe('worker-side API signature check', () => {
  test('a correctly signed publish is verified for its app', () => {
    assert.equal(precheck.verifiedAppId('POST', '/apps/app-id/events', signed('POST', '/apps/app-id/events', BODY), BODY), 'app-id');
    assert.equal(precheck.verifiedAppId('GET', '/apps/app-id/channels', signed('GET', '/apps/app-id/channels', ''), ''), 'app-id');
  });

  test('anything the primary would refuse is left unverified', () => {
    const path = '/apps/app-id/events';
    const q = signed('POST', path, BODY);
    assert.equal(precheck.verifiedAppId('POST', path, q, `${BODY} `), undefined, 'body changed after signing (body_md5)');
    assert.equal(precheck.verifiedAppId('POST', path, q.replace(/auth_signature=(.)/, (_, c: string) => `auth_signature=${c === '0' ? '1' : '0'}`), BODY), undefined, 'signature altered');
    assert.equal(precheck.verifiedAppId('POST', path, signed('POST', path, BODY, { secret: 'wrong' }), BODY), undefined, 'wrong secret');
    assert.equal(precheck.verifiedAppId('POST', '/apps/other-app/events', signed('POST', '/apps/other-app/events', BODY), BODY), undefined, "app-key's signature on another app's path");
    assert.equal(precheck.verifiedAppId('POST', path, signed('POST', path, BODY, { timestamp: Math.floor(Date.now() / 1000) - 601 }), BODY), undefined, 'timestamp out of window');
    assert.equal(precheck.verifiedAppId('POST', path, '', BODY), undefined, 'unsigned (development-mode requests are the primary’s call)');
    assert.equal(precheck.verifiedAppId('POST', path, `${q}&auth_key=app-key`, BODY), undefined, 'duplicate parameter');
    assert.equal(precheck.verifiedAppId('POST', '/apps/%zz/events', q, BODY), undefined, 'malformed path');
    assert.equal(precheck.verifiedAppId('PUT', path, q, BODY), undefined, 'signed for another method');
  });
});
