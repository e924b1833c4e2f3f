import { RunwareReferenceMode } from '../../config/app-config';
import { PortraitReference } from '../../domain/jobs';
import { redact } from '../provider-error';
import { errorKind, RunwareApiError } from './runware-errors';

/** The two ways Runware's `imageInference` takes image references. */
export type RunwareReferenceParameter = 'reference-images' | 'ip-adapters';

export interface IpAdapter {
  model: string;
  weight: number;
  guideImage: string;
}

/** The reference parameters of one `imageInference` task. */
export type ReferenceParams = { referenceImages: string[] } | { ipAdapters: IpAdapter[] };

interface ReferenceImageModel {
  name: string;
  /** The most reference images the model takes in one task. */
  maxImages: number;
}

/**
 * Models known to take `referenceImages`: `auto` passes the cast's portraits to these that way, and to every
 * other model as IP-Adapters. Keys are AIR ids, lower case.
 *
 * Runware's Image Inference API reference, as stored on 2025-10-27, lists the architectures that take
 * `referenceImages` (https://runware.ai/docs/en/image-inference/api-reference#request-referenceimages):
 * "FLUX.1 Kontext: 2 images, Ace++: 1, other models: not supported", with `runware:106@1` as its example.
 * The AIR ids of the Kontext family come from Runware's model pages. ACE++ (`runware:102@1`, FLUX Fill) is left
 * out: it takes `referenceImages` only together with an `acePlusPlus` object, which these renders do not send.
 * FLUX.2 models (e.g. `bfl:6@1`, "up to ten reference images" on its model page) are left out too: their pages
 * could not be read far enough to confirm they take the top-level `referenceImages` this SDK version sends.
 */
const REFERENCE_IMAGE_MODELS: Record<string, ReferenceImageModel> = {
  // https://runware.ai/docs/models/bfl-flux-1-kontext-dev (its schema.json: "x-air-id": "runware:106@1")
  'runware:106@1': { name: 'FLUX.1 Kontext [dev]', maxImages: 2 },
  // https://runware.ai/docs/models/bfl-flux-1-kontext-pro ("ID: bfl:3@1")
  'bfl:3@1': { name: 'FLUX.1 Kontext [pro]', maxImages: 2 },
  // https://runware.ai/docs/models/bfl-flux-1-kontext-max ("ID: bfl:4@1")
  'bfl:4@1': { name: 'FLUX.1 Kontext [max]', maxImages: 2 },
};

/** How a model is given references under the configured mode; null when references are off. */
export function referenceParameterFor(
  setting: RunwareReferenceMode,
  model: string,
): RunwareReferenceParameter | null {
  if (setting === 'off') return null;
  if (setting !== 'auto') return setting;
  return referenceImageModel(model) ? 'reference-images' : 'ip-adapters';
}

export function referenceImageModel(model: string): ReferenceImageModel | undefined {
  return REFERENCE_IMAGE_MODELS[model.trim().toLowerCase()];
}

export function referenceParams(
  parameter: RunwareReferenceParameter,
  images: string[],
  ipAdapter: { model: string; weight: number },
): ReferenceParams {
  if (parameter === 'reference-images') return { referenceImages: images };
  return {
    ipAdapters: images.map((guideImage) => ({
      model: ipAdapter.model,
      weight: ipAdapter.weight,
      guideImage,
    })),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATA_URI = /^data:image\/(png|jpe?g|webp);base64,[a-z0-9+/]+=*$/i;

/**
 * An image Runware can take as a reference: the UUID of an image it generated (what the renderer returns
 * as `reference`), a data URI, or a public https URL. Anything else (a path, a storage key, a plain-http URL
 * of this service, a URL carrying credentials) is not sent: Runware could not fetch it, or should not.
 */
export function isRunwareImage(image: string): boolean {
  if (UUID.test(image) || DATA_URI.test(image)) return true;
  try {
    const url = new URL(image);
    return url.protocol === 'https:' && !url.username && !url.password;
  } catch {
    return false;
  }
}

export function isImageUUID(value: string): boolean {
  return UUID.test(value);
}

/**
 * Whether a failed task's error is Runware refusing the references: it names a reference parameter, or,
 * naming no other parameter, says the feature is not supported. Failures about the key, credit, content or
 * a provider timeout never are: they fail the render as they would without references.
 */
export function isReferenceRefusal(error: RunwareApiError): boolean {
  const kind = errorKind(error);
  if (kind === 'key' || kind === 'credit' || kind === 'content' || kind === 'timeout') return false;
  if (error.parameter) return NAMES_REFERENCES.test(error.parameter);
  if (NAMES_REFERENCES.test(error.code) || NAMES_REFERENCES.test(error.message)) return true;
  return /^unsupported/i.test(error.code) || /\b(not supported|unsupported)\b/i.test(error.message);
}

/** `referenceImages`, `ipAdapters`, `guideImage` and their spellings in codes and messages. */
const NAMES_REFERENCES = /reference[ _-]?images?|ip[ _-]?adapters?|guide[ _-]?images?/i;

/**
 * What Runware said when it refused references, for the session's warning: its code, the parameter and its
 * message, without the API key, and URLs cut to their origin and path (no credentials, no query).
 */
export function describeRefusal(error: RunwareApiError, secret: string): string {
  const parameter = error.parameter ? ` (${error.parameter})` : '';
  const message = error.message.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, withoutCredentials);
  return redact(`${error.code}${parameter}${message ? `: ${message}` : ''}`, secret);
}

function withoutCredentials(link: string): string {
  try {
    const url = new URL(link);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '[link]';
  }
}

/** The usable references of a render, and the names of those dropped. */
export function usableReferences(references: PortraitReference[] | undefined): {
  usable: PortraitReference[];
  dropped: string[];
} {
  const usable: PortraitReference[] = [];
  const dropped: string[] = [];
  for (const reference of references ?? []) {
    if (isRunwareImage(reference.image)) usable.push(reference);
    else dropped.push(reference.name);
  }
  return { usable, dropped };
}
