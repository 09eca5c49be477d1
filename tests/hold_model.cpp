// A test helper process: loads a model (argv[1]) with a weights placement
// (argv[2]), runs one short generation so that every weight is touched, says
// "ready" on stdout and holds the model until its stdin closes. memory_test
// starts two of these to measure how much of the model they share.
#include <cstdio>
#include <iostream>
#include <string>

#include "resident/registry.h"

int main(int argc, char** argv) {
    using namespace resident;
    if (argc != 3) {
        std::fprintf(stderr, "usage: hold_model MODEL.gguf auto|shared|private\n");
        return 2;
    }
    ModelSpec spec;
    spec.source = argv[1];
    spec.ctx_size = 128;
    spec.batch_size = 64;
    spec.threads = 1;
    auto weights = parse_weights(argv[2]);
    if (!weights.is_ok()) return 2;
    spec.weights = *weights;
    // Repacked (private) weights exist in fast mode only.
    spec.determinism = Determinism::kFast;
    auto model = Registry::global().acquire(spec);
    if (!model.is_ok()) {
        std::fprintf(stderr, "%s\n", model.status().to_string().c_str());
        return 1;
    }
    auto predictor = (*model)->create_predictor(spec);
    if (!predictor.is_ok()) return 1;
    GenerationRequest r;
    r.prompt = "Hello";
    r.sampling.max_tokens = 2;
    if (!(*predictor)->generate(r).is_ok()) return 1;
    std::printf("ready %s\n", std::string(weights_name((*model)->spec().weights)).c_str());
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    return 0;
}
