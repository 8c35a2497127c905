pad_test(test_model test_model_golden.cpp test_model_cache.cpp test_model_loaders.cpp test_decode.cpp test_pad.cpp
  test_real_models.cpp test_model_archs.cpp)
target_link_libraries(test_model PRIVATE pad_decode pad_model pad_tokenizer)
pad_test(test_cli test_cli.cpp)
target_link_libraries(test_cli PRIVATE pad_model)
add_dependencies(test_cli pad)
target_precompile_headers(test_model PRIVATE <ATen/ATen.h> <gtest/gtest.h> <nlohmann/json.hpp>)
pad_test(test_runtime_formats test_gguf_types.cpp test_blas.cpp)
target_link_libraries(test_runtime_formats PRIVATE pad_model)
