// Starts the example backend on PORT (default 3000) with the default model service (MODELS_DIR), and
// checks the safety classifier's health once at start-up, as the seed's backend does, without exiting.
import { MODEL_TYPES, mlModelService } from '@modelops/client';

import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
createApp().listen(port, () => {
  console.log(`node-backend listening on :${port}, MODELS_DIR=${process.env.MODELS_DIR ?? '/app/models'}`);
  mlModelService
    .health(MODEL_TYPES.SAFETY_CLASSIFIER)
    .then((health) => console.log(`safety_classifier ${health.version}: ${health.status}${health.reason ? ` (${health.reason})` : ''}`))
    .catch((error) => console.error(`health check failed: ${error.message}`));
});
