import { applyDecorators, Type } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, getSchemaPath } from '@nestjs/swagger';

export interface StreamEvent {
  /** When the event is sent and what it means. */
  description: string;
  /** The class that documents the event's `data` (one line of JSON). */
  data: Type<unknown>;
}

/**
 * Documents a 200 answer that is a stream of server-sent events (`text/event-stream`). The body is text; its
 * `contentSchema` says what an EventSource parser makes of it: events named by `event:`, each with the JSON
 * `data` of its class. The classes become named schemas, so a generated client has a type per event.
 * OpenAPI 3.1 has no keyword for the items of a stream (3.2 adds `itemSchema`); `contentSchema` is the JSON
 * Schema annotation for decoded content, which validators of the body do not assert.
 */
export function ApiEventStream(summary: string, events: Record<string, StreamEvent>): MethodDecorator {
  const list = Object.entries(events).map(
    ([name, event]) => `- \`${name}\`: ${event.description} (\`data\`: ${event.data.name})`,
  );
  return applyDecorators(
    ApiExtraModels(...Object.values(events).map((event) => event.data)),
    ApiOkResponse({
      description: `${summary}. Server-sent events, each \`event: <type>\` with one \`data:\` line of JSON:\n\n${list.join('\n')}`,
      content: {
        'text/event-stream': {
          schema: {
            type: 'string',
            contentMediaType: 'text/event-stream',
            contentSchema: {
              oneOf: Object.entries(events).map(([name, event]) => ({
                type: 'object',
                properties: { event: { const: name }, data: { $ref: getSchemaPath(event.data) } },
                required: ['event', 'data'],
              })),
            },
          } as Record<string, unknown>,
        },
      },
    }),
  );
}
