import * as path from 'node:path';
import { Module } from '@nestjs/common';
import { ServeStaticModule } from '@nestjs/serve-static';
import { AuthModule } from '../auth/auth.module';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ServiceInfoController } from './service-info.controller';

/** The studio's files: `public/` sits two levels up from both src/studio and dist/studio. */
export const STUDIO_ROOT = path.join(__dirname, '..', '..', 'public');

/**
 * The studio page at GET /, served from plain files in `public/` (no build step), and GET /info, which it
 * reads first. Nest registers its own routes before these static files, so no API route can be hidden by
 * a file; and only `/` falls back to index.html, so an unknown path still gets the API's 404 envelope.
 */
@Module({
  imports: [
    AuthModule,
    ServeStaticModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        config.studioEnabled
          ? [
              {
                rootPath: STUDIO_ROOT,
                renderPath: '/',
                serveStaticOptions: {
                  index: 'index.html',
                  // Revalidated on every load (ETag), so a deploy shows at once; the files are small.
                  cacheControl: true,
                  maxAge: 0,
                  dotfiles: 'ignore',
                  redirect: false,
                  fallthrough: true,
                },
              },
            ]
          : [],
    }),
  ],
  controllers: [ServiceInfoController],
})
export class StudioModule {}
