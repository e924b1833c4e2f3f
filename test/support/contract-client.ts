import { requestViolations, responseViolations } from './prism-proxy';

interface Operation {
  operationId: string;
  responses: Record<string, { $ref?: string }>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/**
 * Shared answers (`$ref` to components.responses, the same for every operation) count once for all
 * operations, as `* 429`, and are seen whenever any operation gives that status.
 */
const SHARED = '*';

/**
 * Sends requests through the Prism proxy, fails the test on any answer that does not conform to the
 * document, and remembers which documented answers were seen, so a test can tell which ones it never
 * provoked.
 */
export class ContractClient {
  private readonly seen = new Set<string>();

  constructor(
    private readonly proxyUrl: string,
    private readonly document: OpenApiDocument,
  ) {}

  /** A request a well-behaved client sends: the document must accept the request as well as the answer. */
  async send(path: string, init: RequestInit = {}): Promise<Answer> {
    const answer = await this.sendInvalid(path, init);
    const method = init.method ?? 'GET';
    expect({ request: `${method} ${path}`, violations: requestViolations(answer.headers) }).toEqual({
      request: `${method} ${path}`,
      violations: [],
    });
    return answer;
  }

  /** A request that breaks the document on purpose (bad input, no key): only the answer is checked. */
  async sendInvalid(path: string, init: RequestInit = {}): Promise<Answer> {
    const method = init.method ?? 'GET';
    const res = await fetch(`${this.proxyUrl}${path}`, init);
    const body = Buffer.from(await res.arrayBuffer());
    const answer = `${method} ${path} -> ${res.status}`;
    expect({ answer, violations: responseViolations(res.headers) }).toEqual({ answer, violations: [] });
    const operation = this.operationOf(method, path);
    this.seen.add(`${operation.operationId} ${res.status}`);
    this.seen.add(`${SHARED} ${res.status}`);
    return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body.toString()) };
  }

  /** Documented answers no request provoked: `<operationId> <status>`, or `* <status>` for shared ones. */
  unexercised(): string[] {
    const documented = new Set<string>();
    for (const item of Object.values(this.document.paths)) {
      for (const operation of Object.values(item)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          documented.add(`${response.$ref ? SHARED : operation.operationId} ${status}`);
        }
      }
    }
    return [...documented].filter((answer) => !this.seen.has(answer));
  }

  private operationOf(method: string, path: string): Operation {
    const pathname = new URL(path, 'http://x').pathname;
    for (const [template, item] of Object.entries(this.document.paths)) {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      const operation = item[method.toLowerCase()];
      if (operation && pattern.test(pathname)) return operation;
    }
    throw new Error(`${method} ${path} is not an operation of the document`);
  }
}
