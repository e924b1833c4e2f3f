import { JobName, JobProcessor, QueueName, QUEUE_OF } from '../../src/domain/jobs';
import { assertOneHandlerPerJob } from '../../src/queue/worker-lifecycle';
import { portraitJobId, renderJobId } from '../../src/queue/job-queue.service';

const byQueue = (queue: QueueName): JobProcessor => ({
  queue,
  handles: Object.values(JobName).filter((name) => QUEUE_OF[name] === queue),
});
const complete = () => Object.values(QueueName).map(byQueue);

describe('the start-up check that every job has exactly one handler', () => {
  it('accepts one processor per queue handling its jobs', () => {
    expect(() => assertOneHandlerPerJob(complete())).not.toThrow();
  });

  it('names a job nobody handles', () => {
    const processors = complete().map((p) => ({
      ...p,
      handles: p.handles.filter((name) => name !== JobName.RenderScene),
    }));
    expect(() => assertOneHandlerPerJob(processors)).toThrow('"render-scene" has 0 handlers');
  });

  it('names a job two processors handle', () => {
    const processors = [...complete(), { queue: QueueName.Download, handles: [JobName.DownloadImages] }];
    expect(() => assertOneHandlerPerJob(processors)).toThrow('"download-images" has 2 handlers');
  });

  it('names a job handled on a queue it does not run on', () => {
    const processors = complete().map((p) =>
      p.queue === QueueName.Download ? { ...p, handles: [...p.handles, JobName.PlanStory] } : p,
    );
    const withoutPlan = processors.map((p) =>
      p.queue === QueueName.Generation
        ? { ...p, handles: p.handles.filter((n) => n !== JobName.PlanStory) }
        : p,
    );
    expect(() => assertOneHandlerPerJob(withoutPlan)).toThrow(
      '"plan-story" is handled on queue "download", not "generation"',
    );
  });
});

describe('render job ids', () => {
  it('name each version of a scene or a portrait apart, the first without a suffix', () => {
    expect(renderJobId('s1', 0)).toBe('render-s1-0');
    expect(renderJobId('s1', 0, 1)).toBe('render-s1-0');
    expect(renderJobId('s1', 0, 2)).toBe('render-s1-0-v2');
    expect(portraitJobId('s1', 3)).toBe('portrait-s1-3');
    expect(portraitJobId('s1', 3, 4)).toBe('portrait-s1-3-v4');
    const ids = [1, 2, 3].flatMap((v) => [renderJobId('s1', 1, v), portraitJobId('s1', 1, v)]);
    expect(new Set(ids).size).toBe(ids.length);
    // BullMQ reserves ':' in job ids.
    for (const id of ids) expect(id).not.toContain(':');
  });
});
