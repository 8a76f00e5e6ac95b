#include "trainer/tasks/make_task.h"

#include "trainer/tasks/classification/classification_task.h"
#include "trainer/tasks/glue/glue_task.h"
#include "trainer/tasks/lra/lra_task.h"
#include "trainer/tasks/mlm/mlm_task.h"
#include "trainer/tasks/synthetic/synthetic_task.h"

namespace sbmt::trainer {

std::unique_ptr<Task> MakeTask(const TrainConfig& config) {
  if (config.task.name == "mlm") return std::make_unique<MlmTask>(config);
  if (config.task.name == "classification") return std::make_unique<ClassificationTask>(config);
  if (config.task.name == "glue") return std::make_unique<GlueTask>(config);
  if (config.task.name == "lra") return std::make_unique<LraTask>(config);
  if (config.task.name == "synthetic") return std::make_unique<SyntheticTask>(config);
  throw ConfigError("task.name: expected mlm, classification, glue, lra or synthetic, got '" +
                    config.task.name + "'");
}

void AdjustConfigForTask(TrainConfig& config) {
  if (config.task.name == "glue") GlueTask::AdjustConfig(config);
  if (config.task.name == "lra") LraTask::AdjustConfig(config);
  if (config.task.name == "synthetic") SyntheticTask::AdjustConfig(config);
}

}  // namespace sbmt::trainer
