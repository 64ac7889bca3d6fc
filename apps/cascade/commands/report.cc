// cascade report [--data PATH --dataset NAME] [--quality Q.json] [--funnel F.json] [--rerank
// R.json] [--cuts C.json]
//                [--sweep S.json ...] [--ope O.json] [--out report]
#include "cascade/report/report.h"

#include <fmt/format.h>

#include <memory>

#include "cascade/util/stopwatch.h"
#include "commands.h"

namespace cascade::cli {

void add_report_command(CLI::App& app) {
  auto in = std::make_shared<report::ReportInputs>();
  auto out = std::make_shared<std::string>("report");
  CLI::App* cmd = app.add_subcommand(
      "report",
      "one self-contained HTML report with PNG figures from a dataset and the bench JSON files");
  cmd->add_option("--data", in->data,
                  "data folder (or file, for --dataset csv): dataset statistics");
  cmd->add_option("--dataset", in->dataset,
                  "ml-100k | ml-1m | ml-10m | ml-latest | ml-20m | ml-25m | csv");
  cmd->add_option("--quality", in->quality,
                  "cascade bench quality JSON (channels, fusion, drop-one)");
  cmd->add_option("--funnel", in->funnel,
                  "cascade bench funnel JSON (retention, rankers, DIN, user buckets)");
  cmd->add_option("--rerank", in->rerank, "cascade bench rerank JSON (MMR lambda sweep)");
  cmd->add_option("--cuts", in->cuts, "cascade bench cuts JSON (recall against latency per cut)");
  cmd->add_option("--sweep", in->sweeps, "cascade bench sweep JSON (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--ope", in->ope, "cascade bench ope JSON (off-policy estimates)");
  cmd->add_option("--out", *out, "output folder (index.html, fig/)")->capture_default_str();
  cmd->callback([in, out] {
    const Stopwatch t0;
    in->out = *out;
    const report::ReportOutput r =
        report::write_report(*in, [](const std::string& line) { fmt::print("{}\n", line); });
    fmt::print("report {}: {} sections ({} not run), {} figures in {}/fig ({:.1f} s)\n",
               r.html.string(), r.sections, r.not_run, r.figures.size(), out->c_str(),
               t0.seconds());
  });
}

}  // namespace cascade::cli
