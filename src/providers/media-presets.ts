import { MediaType } from '../domain/session.model';

export interface MediaPreset {
  /** Style line that opens every image prompt of this media type. */
  style: string;
  negativePrompt: string;
  width: number;
  height: number;
  /** Runware model AIR id, steps and CFG scale. */
  model: string;
  steps: number;
  cfgScale: number;
  /** Offline renderer palette: background gradient, accents, text. */
  palette: { sky: string; ground: string; accents: string[]; text: string };
}

// Sizes are multiples of 64 (Runware requires it); cinematic is 16:9.
export const MEDIA_PRESETS: Record<MediaType, MediaPreset> = {
  cinematic: {
    style:
      'Cinematic film still, dramatic lighting, anamorphic widescreen composition, shallow depth of field, rich color grading',
    negativePrompt: 'blurry, low quality, watermark, text, logo, deformed, extra limbs, cartoon',
    width: 1024,
    height: 576,
    model: 'runware:101@1',
    steps: 28,
    cfgScale: 7,
    palette: {
      sky: '#0f2027',
      ground: '#2c5364',
      accents: ['#f2a65a', '#e76f51', '#f4d35e', '#8ab6d6'],
      text: '#fdf6e3',
    },
  },
  cartoon: {
    style:
      'Colorful cartoon illustration, bold clean outlines, flat vibrant colors, expressive characters, storybook style',
    negativePrompt: 'photorealistic, photo, blurry, low quality, watermark, text, logo, deformed',
    width: 1024,
    height: 1024,
    model: 'runware:101@1',
    steps: 24,
    cfgScale: 7.5,
    palette: {
      sky: '#8ecae6',
      ground: '#ffb703',
      accents: ['#fb8500', '#219ebc', '#e63946', '#06d6a0'],
      text: '#023047',
    },
  },
  realistic: {
    style: 'Photorealistic photograph, natural lighting, high detail, 50mm lens, true-to-life colors',
    negativePrompt: 'cartoon, illustration, painting, blurry, low quality, watermark, text, logo, deformed',
    width: 1216,
    height: 832,
    model: 'runware:101@1',
    steps: 30,
    cfgScale: 6.5,
    palette: {
      sky: '#d8e2dc',
      ground: '#6b705c',
      accents: ['#a5a58d', '#cb997e', '#3f4238', '#b7b7a4'],
      text: '#1b1b1b',
    },
  },
};
