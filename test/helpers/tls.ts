/** A throwaway CA with a server certificate (camera.test) and a client certificate, made with openssl. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caFile: string;
  caPem: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCertFile: string;
  clientKeyFile: string;
  /** A certificate for camera.test that no trusted CA signed. */
  selfSignedCert: Buffer;
  selfSignedKey: Buffer;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Issues `name` from the CA in `dir`, with the given extensions. */
function issue(dir: string, name: string, subject: string, ext: string): void {
  openssl(['req', ...EC, '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-pki-'));
  openssl(['req', '-x509', ...EC, '-days', '1', '-subj', '/CN=camprobe test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  issue(dir, 'server', '/CN=camera.test', 'subjectAltName=DNS:camera.test\nextendedKeyUsage=serverAuth\n');
  issue(dir, 'client', '/CN=camprobe', 'extendedKeyUsage=clientAuth\n');
  openssl(['req', '-x509', ...EC, '-days', '1', '-subj', '/CN=camera.test', '-addext', 'subjectAltName=DNS:camera.test', '-keyout', 'self.key', '-out', 'self.pem'], dir);
  const read = (f: string) => readFileSync(join(dir, f));
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    caPem: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    selfSignedCert: read('self.pem'),
    selfSignedKey: read('self.key'),
  };
}
