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
add_test(NAME bench_gpu_tiny_smoke
  COMMAND $<TARGET_FILE:pad> bench gpu --preset tiny --tokens 4 --prompt 8 --prefill 16 --batch 1 3 --pad-batch 1 3
          --out ${CMAKE_CURRENT_BINARY_DIR}/bench_gpu_tiny)
set_tests_properties(bench_gpu_tiny_smoke PROPERTIES TIMEOUT 120
  PASS_REGULAR_EXPRESSION "\\| PAD full \\| 3 \\|.*authors' loop")
# scripts/gpu-check without a GPU: says so and exits 3 (on a GPU machine this test has nothing to check).
add_test(NAME gpu_check_without_gpu
  COMMAND sh -c "command -v nvidia-smi >/dev/null && exit 0; out=$(\"$1\" \"$2\" 2>&1); rc=$?; echo \"$out\"; [ $rc -eq 3 ] && echo \"$out\" | grep -q 'no GPU'"
          sh ${PROJECT_SOURCE_DIR}/scripts/gpu-check ${CMAKE_CURRENT_BINARY_DIR}/gpu_check_out)
