/**
 * A certificate authority and a server certificate for 127.0.0.1, localhost
 * and ::1, made at test time so no key is ever committed.
 */
import selfsigned from 'selfsigned';

export interface TestCertificates {
  /** The CA certificate to pass as `tls: { ca }`. */
  ca: string;
  /** Server certificate (signed by `ca`) and its key. */
  cert: string;
  key: string;
}

let cached: Promise<TestCertificates> | undefined;

/** One set per process: generating RSA keys costs ~100 ms. */
export function testCertificates(): Promise<TestCertificates> {
  cached ??= (async () => {
    const ca = await selfsigned.generate([{ name: 'commonName', value: 'poolfetch test CA' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    });
    const server = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
            { type: 7, ip: '127.0.0.2' },
            { type: 7, ip: '127.0.0.3' },
            { type: 7, ip: '::1' },
          ],
        },
      ],
    });
    return { ca: ca.cert, cert: server.cert, key: server.private };
  })();
  return cached;
}
