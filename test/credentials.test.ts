import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { createCredentialProvider } from '../src/auth/credentials.js';
import type { CredentialConfig } from '../src/config/types.js';
import { Redactor } from '../src/core/secrets.js';

const SECRET = 'unit-test-signing-secret-0123456789';
const key = new TextEncoder().encode(SECRET);
const env = { SECRET_VAR: SECRET, KEY_VAR: 'api-key-abcdef123456' };
const jwtCred: CredentialConfig = { name: 'svc', kind: 'jwt_secret', secret: { env: 'SECRET_VAR' }, user_id: 'camprobe', role: 'viewer', ttl_ms: 60_000 };
const tokenCred: CredentialConfig = { name: 'key', kind: 'token', token: { env: 'KEY_VAR' }, role: 'viewer' };

describe('credentials', () => {
  it('mints HS256 tokens with exactly the documented claims and a short lifetime', async () => {
    const p = createCredentialProvider(jwtCred, new Redactor(), env);
    const token = await p.valid();
    const { payload, protectedHeader } = await jwtVerify(token, key, { algorithms: ['HS256'] });
    assert.equal(protectedHeader.alg, 'HS256');
    assert.deepEqual(Object.keys(payload).sort(), ['exp', 'iat', 'role', 'user_id']);
    assert.equal(payload.role, 'viewer');
    assert.equal(payload.user_id, 'camprobe');
    assert.equal(payload.exp! - payload.iat!, 60);
    const admin = decodeJwt(await p.mint('admin'));
    assert.equal(admin.role, 'admin');
  });

  it('reuses the valid token for half its lifetime, and mints anew after that or when the secret changes', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
    const vars = { ...env };
    const p = createCredentialProvider(jwtCred, new Redactor(), vars);
    const first = await p.valid();
    t.mock.timers.tick(29_000);
    assert.equal(await p.valid(), first, 'reused with 31 s of 60 s left');
    t.mock.timers.tick(1_000);
    const second = await p.valid();
    assert.notEqual(second, first, 'renewed at half its lifetime');
    assert.equal(decodeJwt(second).iat, 1_700_000_030);

    vars.SECRET_VAR = 'rotated-signing-secret-9876543210';
    const third = await p.valid();
    await jwtVerify(third, new TextEncoder().encode(vars.SECRET_VAR), { algorithms: ['HS256'] });
    assert.notEqual(third, second);
  });

  it('produces each bad credential the rejection probe needs', async () => {
    const p = createCredentialProvider(jwtCred, new Redactor(), env);
    const forged = await p.bad('forged', 'admin');
    await assert.rejects(jwtVerify(forged, key), /signature/);
    assert.equal(decodeJwt(forged).role, 'admin', 'a forged token claims the role the method needs');

    const expired = await p.bad('expired', 'admin');
    await assert.rejects(jwtVerify(expired, key), /exp/);
    assert.ok(decodeJwt(expired).exp! < Date.now() / 1000);

    const none = await p.bad('alg_none', 'admin');
    assert.equal(decodeProtectedHeader(none).alg, 'none');
    assert.ok(none.endsWith('.'), 'no signature');

    const malformed = await p.bad('malformed', 'viewer');
    assert.throws(() => decodeJwt(malformed));
  });

  it('a static token or API key is used as is, cannot mint, and is known to the redactor', async () => {
    const redactor = new Redactor();
    const p = createCredentialProvider(tokenCred, redactor, env);
    assert.equal(await p.valid(), 'api-key-abcdef123456');
    assert.equal(p.canMint, false);
    await assert.rejects(p.mint('admin'), /cannot mint/);
    await assert.rejects(p.bad('expired', 'admin'), /cannot mint an expired token/);
    assert.equal(redactor.redact('key=api-key-abcdef123456!'), 'key=[REDACTED]!');
  });

  it('the signing secret is registered with the redactor before any token exists', () => {
    const redactor = new Redactor();
    createCredentialProvider(jwtCred, redactor, env);
    assert.equal(redactor.redact(`oops ${SECRET}`), 'oops [REDACTED]');
  });
});
