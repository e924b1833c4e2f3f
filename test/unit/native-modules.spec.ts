import sharp from 'sharp';

/**
 * The prebuilt native parts load on the runtime the suite runs on (`.ci/run` runs it on Node 20 and on
 * Node 24): sharp (the offline renderer) and msgpackr-extract (BullMQ's job payloads; without it msgpackr
 * silently falls back to JavaScript, hence the explicit check).
 */
describe('native modules', () => {
  it('sharp loads libvips and renders', async () => {
    expect(sharp.versions.vips).toMatch(/^\d+\.\d+/);
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    expect((await sharp(png).metadata()).width).toBe(4);
  });

  it("msgpackr uses msgpackr-extract's native acceleration", () => {
    const msgpackr = require('msgpackr') as { isNativeAccelerationEnabled: boolean };
    expect(msgpackr.isNativeAccelerationEnabled).toBe(true);
  });
});
