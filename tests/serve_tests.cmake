# The serve layer: the in-process server over loopback (tests/test_serve.cpp).
pad_test(test_serve test_serve.cpp)
target_link_libraries(test_serve PRIVATE pad_serve)
add_dependencies(test_serve pad)  # compares with `pad generate`

# The official openai npm client against `pad serve` (skipped with a message when npm cannot install).
add_test(NAME openai_client COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/openai/run.sh ${CMAKE_CURRENT_BINARY_DIR}/openai
         $<TARGET_FILE:pad> ${PROJECT_SOURCE_DIR}/models)
set_tests_properties(openai_client PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 COST 20)

# 64 concurrent clients against the in-process server (about a minute on 2 cores).
pad_test(test_serve_load COST 90 test_serve_load.cpp)
target_link_libraries(test_serve_load PRIVATE pad_serve)

# The load client on its own, for scripts/soak.
add_executable(serve_load serve_load_main.cpp)
target_link_libraries(serve_load PRIVATE pad_serve)
target_compile_definitions(serve_load PRIVATE ${PAD_TEST_DEFS})

# Hostile and broken clients: stalls, slow readers, clients that leave, 10,000 malformed requests.
pad_test(test_serve_faults COST 30 test_serve_faults.cpp)
target_link_libraries(test_serve_faults PRIVATE pad_serve)
