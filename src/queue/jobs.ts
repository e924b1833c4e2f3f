import { MediaType } from '../sessions/session.model';

/** Queue and job names. Each job name maps to exactly one handler (checked when workers start). */
export enum QueueName {
  Generation = 'generation',
  Download = 'download',
}

export enum JobName {
  PlanStory = 'plan-story',
  RenderScene = 'render-scene',
  FinalizeSession = 'finalize-session',
  DownloadImages = 'download-images',
}

export interface SessionJob {
  sessionId: string;
}

/** Everything a render needs travels with the job, so rendering reads nothing from the session. */
export interface RenderSceneJob extends SessionJob {
  sceneIndex: number;
  title: string;
  prompt: string;
  negativePrompt: string | null;
  mediaType: MediaType;
  seed: number;
}

export type JobData = SessionJob | RenderSceneJob;

/** Which queue each job runs on. */
export const QUEUE_OF: Record<JobName, QueueName> = {
  [JobName.PlanStory]: QueueName.Generation,
  [JobName.RenderScene]: QueueName.Generation,
  [JobName.FinalizeSession]: QueueName.Generation,
  [JobName.DownloadImages]: QueueName.Download,
};

/** Context a handler gets besides its data: enough to know whether a failure is the last try. */
export interface JobContext {
  attempt: number;
  maxAttempts: number;
  isLastAttempt: boolean;
}

export type JobHandler = (data: JobData, context: JobContext) => Promise<void>;
export type JobHandlers = Partial<Record<JobName, JobHandler>>;

/**
 * Runs when a job has failed for good, however it failed: including ways its handler never saw, such as
 * a worker dying mid-job more often than the stalled-job limit allows. Records the failure in the session.
 */
export type FailureHandler = (data: JobData) => Promise<void>;
export type FailureHandlers = Partial<Record<JobName, FailureHandler>>;
