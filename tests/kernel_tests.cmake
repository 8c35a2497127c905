# Small-batch matrix-product kernels against their scalar reference and at::linear.
pad_test(test_kernels test_kernels.cpp)
target_link_libraries(test_kernels PRIVATE pad_kernels)
