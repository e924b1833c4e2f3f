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

export interface RenderSceneJob extends SessionJob {
  sceneIndex: number;
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
