// The seed's ML routes on Express, wired to @modelops/client exactly as the seed's backend calls its
// `ml-model.service`: `mlModelService.loadModel(MODEL_TYPES.SAFETY_CLASSIFIER, 'v1.0.0')`, `model.predict(msg)`,
// `listAvailableModels()` and `GET /api/v1/ml-models/:type/health`. Typed errors become HTTP statuses, so a
// bad model or bad input never crashes the process. `server.js` starts it; the tests call createApp.
import express from 'express';
import {
  ConnectionError,
  InvalidInputError,
  ModelNotFoundError,
  ServerError,
  VerificationError,
  mlModelService,
} from '@modelops/client';

/** HTTP status for an error thrown by the model service. */
export function statusFor(error) {
  if (error instanceof InvalidInputError) return 400;
  if (error instanceof ModelNotFoundError) return 404;
  if (error instanceof VerificationError) return 503;
  if (error instanceof ServerError) return error.status === 503 ? 503 : 502;
  if (error instanceof ConnectionError) return 502;
  return 500;
}

const route = (handler) => async (req, res) => {
  try {
    await handler(req, res);
  } catch (error) {
    const status = statusFor(error);
    const message = status === 500 ? 'internal error' : error.message;
    if (status === 500) console.error(error);
    res.status(status).json({ error: message });
  }
};

/** The Express app over a model service (the default one reads MODELS_DIR). */
export function createApp(service = mlModelService) {
  const app = express();
  app.use(express.json({ limit: '1mb' }));

  app.get('/api/v1/ml-models', route(async (_req, res) => {
    res.json(await service.listAvailableModels());
  }));

  app.get('/api/v1/ml-models/:type/health', route(async (req, res) => {
    const health = await service.health(req.params.type, req.query.version ?? 'latest');
    res.status(health.status === 'healthy' ? 200 : 503).json(health);
  }));

  app.post('/api/v1/ml-models/:type/predict', route(async (req, res) => {
    const body = req.body ?? {};
    const model = await service.loadModel(req.params.type, body.version ?? req.query.version ?? 'latest');
    const prediction = await model.predict(body.texts ?? body.text);
    const answer = Array.isArray(prediction) ? { predictions: prediction } : prediction;
    res.json({ model_type: model.modelType, version: model.version, ...answer });
  }));

  return app;
}
