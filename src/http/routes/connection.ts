import { Router } from 'express';
import type { ServiceContext } from '../../context.js';

export function connectionRoutes(_ctx: ServiceContext): Router {
  return Router();
}
