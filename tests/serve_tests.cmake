# The serve layer: the in-process server over loopback (tests/test_serve.cpp).
pad_test(test_serve test_serve.cpp)
target_link_libraries(test_serve PRIVATE pad_serve)
add_dependencies(test_serve pad)  # compares with `pad generate`

# The official openai npm client against `pad serve` (skipped with a message when npm cannot install).
add_test(NAME openai_client COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/openai/run.sh ${CMAKE_CURRENT_BINARY_DIR}/openai
         $<TARGET_FILE:pad> ${PROJECT_SOURCE_DIR}/models)
set_tests_properties(openai_client PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
