/**
 * Baseline helper process for status reads: serves the bytes of BODY_FILE as application/json on
 * GET /status/:id, with Express (KIND=express) or plain node:http (KIND=http), on 127.0.0.1 and a free
 * port, then prints {"type":"listening","port":…}.
 */
import express from 'express';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';

const body = readFileSync(process.env.BODY_FILE ?? '');
const kind = process.env.KIND ?? 'express';

function listening(server: http.Server): void {
  console.log(JSON.stringify({ type: 'listening', port: (server.address() as AddressInfo).port }));
}

if (kind === 'express') {
  const app = express();
  app.disable('x-powered-by');
  app.get('/status/:id', (_req, res) => {
    res.type('application/json').send(body);
  });
  const server = app.listen(0, '127.0.0.1', () => listening(server));
} else {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/status/')) {
      res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': body.length,
      });
      res.end(body);
    } else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1', () => listening(server));
}
// Bounded: the bench kills this process, but it must never outlive a crashed bench by long.
setTimeout(() => process.exit(0), 120_000).unref();
