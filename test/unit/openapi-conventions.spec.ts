import { Controller, Get, INestApplication } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, OpenAPIObject } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import { buildOpenApiDocument } from '../../src/http/openapi/document';
import { ApiEventStream } from '../../src/http/openapi/event-stream.decorator';
import { toOpenApi31 } from '../../src/http/openapi/nullable';
import { Public } from '../../src/http/public.decorator';

class Tick {
  @ApiProperty({ type: 'integer' }) step!: number;
  @ApiProperty({ type: String, nullable: true }) note!: string | null;
}

class Done {
  @ApiProperty({ type: Tick, nullable: true }) last!: Tick | null;
}

/** Endpoints as a later issue would add them, with nothing but their own decorators. */
@Controller('demo')
class DemoController {
  @Get('keyed')
  @ApiOkResponse({ type: Done })
  readDemo() {}

  @Get('open')
  @Public()
  probeDemo() {}

  @Get('events')
  @ApiEventStream('Progress of a demo', {
    tick: { description: 'After each step', data: Tick },
    done: { description: 'Once, at the end', data: Done },
  })
  streamDemo() {}
}

describe('OpenAPI conventions applied to every endpoint', () => {
  let app: INestApplication;
  let document: OpenAPIObject;
  beforeAll(async () => {
    const module = await Test.createTestingModule({ controllers: [DemoController] }).compile();
    app = module.createNestApplication({ logger: false });
    document = buildOpenApiDocument(app, { apiKeysRequired: true });
  });
  afterAll(() => app.close());

  const operation = (path: string) => document.paths[path].get!;

  it('names operations after their handlers', () => {
    expect(['/demo/keyed', '/demo/open', '/demo/events'].map((path) => operation(path).operationId)).toEqual([
      'readDemo',
      'probeDemo',
      'streamDemo',
    ]);
  });

  it('asks for an API key and lists the shared errors on a new endpoint, without any decorator for it', () => {
    const keyed = operation('/demo/keyed');
    expect(keyed.security).toEqual([{ 'api-key': [] }, { bearer: [] }]);
    expect(Object.keys(keyed.responses)).toEqual([
      '200',
      '400',
      '401',
      '413',
      '415',
      '429',
      '431',
      '500',
      '503',
    ]);
    expect(keyed.responses['429']).toEqual({ $ref: '#/components/responses/TooManyRequests' });
  });

  it('marks @Public() endpoints as needing no key and leaves out 401, 429 and 503', () => {
    const open = operation('/demo/open') as unknown as Record<string, unknown>;
    expect(open.security).toEqual([]);
    expect(Object.keys(open.responses as object)).toEqual(['200', '400', '413', '415', '431', '500']);
    expect(open).not.toHaveProperty('x-public');
  });

  it('declares nullable fields and nullable references in OpenAPI 3.1 terms', () => {
    const { schemas } = document.components!;
    expect(document.openapi).toBe('3.1.0');
    expect(schemas!.Tick).toMatchObject({ properties: { note: { type: ['string', 'null'] } } });
    expect(schemas!.Done).toMatchObject({
      properties: { last: { anyOf: [{ $ref: '#/components/schemas/Tick' }, { type: 'null' }] } },
    });
    expect(JSON.stringify(document)).not.toContain('"nullable"');
  });

  it('documents a server-sent events endpoint as text/event-stream with each event type', () => {
    const answer = operation('/demo/events').responses['200'] as {
      description: string;
      content: Record<string, { schema: { type: string; contentSchema: { oneOf: unknown[] } } }>;
    };
    expect(Object.keys(answer.content)).toEqual(['text/event-stream']);
    const stream = answer.content['text/event-stream'].schema;
    expect(stream.type).toBe('string');
    expect(stream.contentSchema.oneOf).toEqual([
      expect.objectContaining({
        properties: { event: { const: 'tick' }, data: { $ref: '#/components/schemas/Tick' } },
      }),
      expect.objectContaining({
        properties: { event: { const: 'done' }, data: { $ref: '#/components/schemas/Done' } },
      }),
    ]);
    expect(answer.description).toContain('- `tick`: After each step (`data`: Tick)');
  });
});

describe('toOpenApi31', () => {
  it('adds null to the type, and to the enum when there is one', () => {
    expect(
      toOpenApi31({
        a: { type: 'string', nullable: true },
        b: { type: 'string', enum: ['x'], nullable: true },
      }),
    ).toMatchObject({ a: { type: ['string', 'null'] }, b: { type: ['string', 'null'], enum: ['x', null] } });
  });

  it('keeps annotations beside the anyOf of a nullable reference, and constraints inside it', () => {
    const ref = { $ref: '#/components/schemas/X' };
    expect(toOpenApi31({ a: { type: 'object', nullable: true, allOf: [ref], description: 'd' } }).a).toEqual({
      description: 'd',
      anyOf: [ref, { type: 'null' }],
    });
    expect(toOpenApi31({ a: { nullable: true, allOf: [ref], minProperties: 1 } }).a).toEqual({
      anyOf: [{ allOf: [ref], minProperties: 1 }, { type: 'null' }],
    });
  });

  it('leaves data alone: an example may have a field called nullable', () => {
    const example = { nullable: true, type: 'string' };
    expect(toOpenApi31({ a: { type: 'object', example } }).a.example).toEqual(example);
  });
});
