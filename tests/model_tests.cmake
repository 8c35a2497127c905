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
