import { SceneRenderRequest } from '../domain/jobs';
import { ImageSource } from '../domain/session.model';

export interface RenderedImage {
  /** What clients see as the scene's `image_url`. */
  imageUrl: string;
  /** Where the download worker fetches the image from after approval. */
  source: ImageSource;
  seed: number;
  model: string;
}

/** Makes one image for one scene. */
export interface ImageRenderer {
  readonly name: string;
  render(request: SceneRenderRequest): Promise<RenderedImage>;
}

export const IMAGE_RENDERER = Symbol('IMAGE_RENDERER');
