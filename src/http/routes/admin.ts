import { Router } from 'express';
import type { ServiceContext } from '../../context.js';

export function adminRoutes(_ctx: ServiceContext): Router {
  return Router();
}
