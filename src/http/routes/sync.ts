import { Router } from 'express';
import type { ServiceContext } from '../../context.js';

export function syncRoutes(_ctx: ServiceContext): Router {
  return Router();
}
