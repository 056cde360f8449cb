import { Router } from 'express';
import type { ServiceContext } from '../../context.js';

export function oauthRoutes(_ctx: ServiceContext): Router {
  return Router();
}
