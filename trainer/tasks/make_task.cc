#include "trainer/tasks/make_task.h"

#include "trainer/tasks/classification/classification_task.h"
#include "trainer/tasks/glue/glue_task.h"
#include "trainer/tasks/mlm/mlm_task.h"

namespace sbmt::trainer {

std::unique_ptr<Task> MakeTask(const TrainConfig& config) {
  if (config.task.name == "mlm") return std::make_unique<MlmTask>(config);
  if (config.task.name == "classification") return std::make_unique<ClassificationTask>(config);
  if (config.task.name == "glue") return std::make_unique<GlueTask>(config);
  throw ConfigError("task.name: expected mlm, classification or glue, got '" + config.task.name +
                    "'");
}

void AdjustConfigForTask(TrainConfig& config) {
  if (config.task.name == "glue") GlueTask::AdjustConfig(config);
}

}  // namespace sbmt::trainer
