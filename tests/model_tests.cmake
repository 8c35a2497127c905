pad_test(test_model test_model_golden.cpp test_model_cache.cpp test_model_loaders.cpp test_decode.cpp test_pad.cpp)
target_link_libraries(test_model PRIVATE pad_decode pad_model)
