import {
  describeRefusal,
  isReferenceRefusal,
  isRunwareImage,
  referenceParameterFor,
} from '../../src/providers/runware/runware-references';

describe('Runware references', () => {
  describe('which way a model is given references', () => {
    it.each([
      ['auto', 'runware:101@1', 'ip-adapters'],
      ['auto', 'runware:106@1', 'reference-images'],
      ['auto', ' bfl:3@1 ', 'reference-images'],
      ['auto', 'bfl:4@1', 'reference-images'],
      ['auto', 'runware:102@1', 'ip-adapters'],
      ['reference-images', 'runware:101@1', 'reference-images'],
      ['ip-adapters', 'runware:106@1', 'ip-adapters'],
      ['off', 'runware:106@1', null],
    ] as const)('%s with %s → %s', (setting, model, expected) => {
      expect(referenceParameterFor(setting, model)).toBe(expected);
    });
  });

  describe('what Runware can take as a reference image', () => {
    it.each([
      ['a generated image UUID', '3f1c8a52-9d4e-4b7a-8c21-5e6f7a8b9c0d', true],
      ['an https URL on Runware', 'https://im.runware.ai/image/ws/2/ii/x.png', true],
      ['a data URI', 'data:image/webp;base64,UklGRg==', true],
      [
        'a plain-http URL (this service, locally)',
        'http://localhost:3000/v1/sessions/s/cast/mara.png',
        false,
      ],
      ['an https URL with credentials', 'https://user:pw@example.com/x.png', false],
      ['a storage key', 'sessions/s/cast/mara.png', false],
      ['a file URL', 'file:///etc/passwd', false],
      ['a data URI of something else', 'data:text/html;base64,PGgxPg==', false],
      ['an empty string', '', false],
    ])('%s: %s → %s', (_, image, expected) => {
      expect(isRunwareImage(image)).toBe(expected);
    });
  });

  describe('which task errors are a refusal of the references', () => {
    it.each([
      [
        {
          code: 'invalidIpAdapters',
          message: 'Invalid value for ipAdapters parameter.',
          parameter: 'ipAdapters',
        },
      ],
      [{ code: 'invalidGuideImage', message: 'Invalid guide image.', parameter: 'ipAdapters[0].guideImage' }],
      [
        {
          code: 'invalidIpAdapterModel',
          message: 'Invalid IP-Adapter model.',
          parameter: 'ipAdapters.model',
        },
      ],
      // A code seen from Runware for too many reference images, with no parameter in the report.
      [{ code: 'invalidReferenceImagesCount', message: 'Invalid number of reference images.' }],
      [{ code: 'modelError', message: 'referenceImages cannot be used with this architecture' }],
      [{ code: 'unsupportedFeature', message: 'This feature is not supported for the selected model' }],
      [{ code: 'providerRejected', message: 'IP-Adapter is unsupported by FLUX.1 Kontext' }],
    ])('%j is', (error) => {
      expect(isReferenceRefusal(error)).toBe(true);
    });

    it.each([
      [{ code: 'invalidWidth', message: 'Invalid value for width parameter.', parameter: 'width' }],
      [{ code: 'unsupportedScheduler', message: 'Not supported here.', parameter: 'scheduler' }],
      [{ code: 'invalidApiKey', message: 'Invalid API key.', parameter: 'apiKey' }],
      [{ code: 'insufficientCredits', message: 'Insufficient credits for reference images.' }],
      [{ code: 'timeoutProvider', message: 'Timed out while processing the reference images.' }],
      [{ code: 'nsfwContent', message: 'A reference image was flagged.' }],
      [{ code: 'serverError', message: 'Something went wrong.' }],
    ])('%j is not', (error) => {
      expect(isReferenceRefusal(error)).toBe(false);
    });
  });

  it('describes a refusal without the key, credentials or query strings, and briefly', () => {
    const key = 'rw-SECRET';
    const description = describeRefusal(
      {
        code: 'invalidIpAdapters',
        parameter: 'ipAdapters',
        message: `Bad ${key}: see https://a:b@docs.runware.ai/x?apiKey=${key} and   ${'very long '.repeat(40)}`,
      },
      key,
    );
    expect(description).toMatch(
      /^invalidIpAdapters \(ipAdapters\): Bad \[redacted\]: see https:\/\/docs\.runware\.ai\/x and very long/,
    );
    expect(description).not.toContain(key);
    expect(description).not.toContain('a:b');
    expect(description.length).toBeLessThanOrEqual(200);
  });
});
