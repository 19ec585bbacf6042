// Provider, recipient and target names that are Object.prototype members ("constructor", "__proto__") are unknown
// names (404 or a 400 naming the field), never a TypeError and a 500.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pushBed } from '../helpers/pushClient.ts';

describe('provider / recipient / target names that are Object.prototype members', () => {
  const bed = pushBed();

  test('POST /push/credentials/constructor and /__proto__ are unknown routes (404), not 500s', async () => {
    for (const path of ['constructor', 'toString', '__proto__']) {
      const res = await bed.api.post(`/credentials/${path}`, { publicKey: 'pk', privateKey: 'sk' });
      assert.equal(res.status, 404, `/credentials/${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  });

  test('a recipient whose transportType is "constructor" is a 400 naming transportType, not a 500', async () => {
    const reg = await bed.api.post('/deviceRegistrations', { id: 'rv5-dev', push: { recipient: { transportType: 'constructor', registrationToken: 'x' } } });
    assert.equal(reg.status, 400, `registration: ${reg.status} ${JSON.stringify(reg.body)}`);
    assert.match(reg.body.error, /transportType/);
    const raw = await bed.api.post('/publish', { recipients: [{ type: 'recipient', recipient: { transportType: 'toString' } }], payload: { title: 'T' } });
    assert.equal(raw.status, 400, `raw target: ${raw.status} ${JSON.stringify(raw.body)}`);
  });

  test('a publish target whose type is "constructor" is a 400 naming recipients[0].type, not a 500', async () => {
    const res = await bed.api.post('/publish', { recipients: [{ type: 'constructor', channel: 'x' }], payload: { title: 'T' } });
    assert.equal(res.status, 400, `${res.status} ${JSON.stringify(res.body)}`);
    assert.match(res.body.error, /recipients\[0\]\.type/);
  });
});
