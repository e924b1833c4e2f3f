import { PortraitRenderRequest, SceneRenderRequest } from '../domain/jobs';
import { ImageSource } from '../domain/session.model';

/** How a render was given its references: Runware's two ways, or the offline renderer's colour marks. */
export type ReferenceMode = 'reference-images' | 'ip-adapters' | 'offline';

export interface RenderedImage {
  /** What clients see as the scene's `image_url`. */
  imageUrl: string;
  /** Where the download worker fetches the image from after approval. */
  source: ImageSource;
  seed: number;
  model: string;
  /**
   * How this renderer takes the image back as a reference (PortraitReference.image): Runware's image UUID,
   * or the offline renderer's storage key.
   */
  reference?: string;
  /** How the request's references were passed; null when it had none, or they were refused. */
  referenceMode?: ReferenceMode | null;
  /**
   * The cast members whose portraits were actually passed, when not all of the request's were (a model
   * that takes fewer, a reference that could not be sent); absent: all of them.
   */
  referencesUsed?: string[];
  /**
   * Set when the model refused the references and the image was rendered again from text alone: what the
   * provider said, for the session's warning.
   */
  referencesRefused?: string;
}

/** Makes one image for one scene, from the portraits of its cast when it is given them; and the portraits. */
export interface ImageRenderer {
  readonly name: string;
  render(request: SceneRenderRequest): Promise<RenderedImage>;
  renderPortrait(request: PortraitRenderRequest): Promise<RenderedImage>;
}

export const IMAGE_RENDERER = Symbol('IMAGE_RENDERER');
