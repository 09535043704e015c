// A self-signed serving certificate for the API server.
//
// Why TLS at all on loopback: kubectl (client-go) never sends credentials
// (bearer tokens included) over plain http:// (kubernetes/kubectl#744), so a
// kubeconfig with a token must point at https://. The server's TCP port
// speaks both (see server.ts): https for kubectl, plain http for meshlet's own
// clients. The certificate doubles as its own CA in kubeconfigs
// (certificate-authority-data).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export interface ServingCert {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

/**
 * Loads dir/apiserver.crt + apiserver.key, creating them first (openssl, EC
 * P-256, 10 years, SANs 127.0.0.1, ::1, localhost and extra hosts) when absent.
 */
export function ensureServingCert(dir: string, extraHosts: string[] = []): ServingCert {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, 'apiserver.crt');
  const keyPath = join(dir, 'apiserver.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    const sans = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', ...extraHosts.map((h) => (/^[\d.:]+$/.test(h) ? `IP:${h}` : `DNS:${h}`))];
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-nodes',
        '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-keyout', keyPath, '-out', certPath,
        '-days', '3650',
        '-subj', '/CN=meshlet-apiserver',
        '-addext', `subjectAltName=${sans.join(',')}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,digitalSignature,keyCertSign',
        '-addext', 'extendedKeyUsage=serverAuth',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    chmodSync(keyPath, 0o600);
  }
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath };
}
