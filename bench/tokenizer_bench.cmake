# bench_tokenizer: encode throughput (MB/s) of the Llama 3 vocabulary on a few MB of mixed text.
add_executable(bench_tokenizer bench_tokenizer.cpp)
target_link_libraries(bench_tokenizer PRIVATE pad_tokenizer)
target_compile_definitions(bench_tokenizer PRIVATE PAD_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
