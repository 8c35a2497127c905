pad_test(test_model test_model_golden.cpp test_model_cache.cpp test_model_loaders.cpp test_decode.cpp test_pad.cpp
  test_real_models.cpp test_model_archs.cpp test_engine_online.cpp)
target_link_libraries(test_model PRIVATE pad_decode pad_model pad_tokenizer)
pad_test(test_cli test_cli.cpp)
target_link_libraries(test_cli PRIVATE pad_model)
add_dependencies(test_cli pad)
target_precompile_headers(test_model PRIVATE <ATen/ATen.h> <gtest/gtest.h> <nlohmann/json.hpp>)
pad_test(test_runtime_formats test_gguf_types.cpp test_blas.cpp)
target_link_libraries(test_runtime_formats PRIVATE pad_model)
pad_test(test_quant_model test_quant_model.cpp)
target_link_libraries(test_quant_model PRIVATE pad_decode pad_model)
# The device path (issue 14): the generic ATen forward against pad's kernels on the CPU; CUDA cases skip without a GPU.
pad_test(test_device test_device.cpp)
target_link_libraries(test_device PRIVATE pad_decode pad_model)
# `pad bench gpu --preset tiny`: the device benchmark's code (generic ops on the CPU) runs end to end.
set(PAD_BENCH_TINY ${CMAKE_CURRENT_BINARY_DIR}/bench_gpu_tiny)
add_test(NAME bench_gpu_tiny_smoke
  COMMAND sh -c "rm -f ${PAD_BENCH_TINY}.jsonl && $<TARGET_FILE:pad> bench gpu --preset tiny --tokens 4 --prompt 8 --prefill 16 --batch 1 3 --pad-batch 1 3 --out ${PAD_BENCH_TINY} && grep -q '\"method\":\"PAD full\",\"tokens_per_s\"' ${PAD_BENCH_TINY}.jsonl && grep -q authors ${PAD_BENCH_TINY}.md")
set_tests_properties(bench_gpu_tiny_smoke PROPERTIES TIMEOUT 120)
# scripts/gpu-check without a GPU: says so and exits 3 (on a GPU machine this test has nothing to check).
add_test(NAME gpu_check_without_gpu
  COMMAND sh -c "command -v nvidia-smi >/dev/null && exit 0; out=$(\"$1\" \"$2\" 2>&1); rc=$?; echo \"$out\"; [ $rc -eq 3 ] && echo \"$out\" | grep -q 'no GPU'"
          sh ${PROJECT_SOURCE_DIR}/scripts/gpu-check ${CMAKE_CURRENT_BINARY_DIR}/gpu_check_out)
# The CLI on the generic path (PAD_GENERIC_OPS=1) prints the same ids as on pad's kernels, plain and
# PAD with the head PersRM; `--device cuda` on a pad without CUDA is a clear error with exit 1.
set(PAD_DEVICE_GEN "$<TARGET_FILE:pad> generate -m ${PROJECT_SOURCE_DIR}/models/base --ids 5,9,2,44,7 -n 10 --print-ids")
add_test(NAME cli_generic_ops_same_ids
  COMMAND sh -c "a=$(${PAD_DEVICE_GEN}) && b=$(PAD_GENERIC_OPS=1 ${PAD_DEVICE_GEN}) && echo \"$a\" && [ -n \"$a\" ] && [ \"$a\" = \"$b\" ] && h=\"--persrm-head ${PROJECT_SOURCE_DIR}/models/persrm-head/value_head.safetensors --preference humor --strategy pad\" && c=$(${PAD_DEVICE_GEN} $h) && d=$(PAD_GENERIC_OPS=1 ${PAD_DEVICE_GEN} $h) && echo \"$c\" && [ -n \"$c\" ] && [ \"$c\" = \"$d\" ]")
add_test(NAME cli_device_cuda_without_cuda
  COMMAND sh -c "command -v nvidia-smi >/dev/null && exit 0; out=$($<TARGET_FILE:pad> info ${PROJECT_SOURCE_DIR}/models/base --device cuda 2>&1); rc=$?; echo \"$out\"; [ $rc -eq 1 ] && echo \"$out\" | grep -q 'error: --device cuda: '")
