#include "ui/renderer.hpp"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_vulkan.h>
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "ui/texture.hpp"
#include "ui/theme.hpp"
#include "ui_spv/image_quad_frag.h"
#include "ui_spv/image_quad_vert.h"

namespace rmvk::ui {

struct Renderer::ImageDraw {
    Renderer* renderer = nullptr;
    VkDescriptorSet set = VK_NULL_HANDLE;
    uint32_t first = 0, count = 0;  // quads in image_quads_
};

namespace {

void imgui_check(VkResult result) {
    vk_check(result, "ImGui Vulkan backend");
}

// Adds the milliseconds since `since` to `total` and restarts the clock.
void lap(std::chrono::steady_clock::time_point& since, double& total) {
    auto now = std::chrono::steady_clock::now();
    total += std::chrono::duration<double, std::milli>(now - since).count();
    since = now;
}

}  // namespace

Renderer::Renderer(GLFWwindow* window, bool vsync) : window_(window), vsync_(vsync) {
    create_device();
    create_swapchain();
    create_image_pipeline();
    init_imgui();
}

Renderer::~Renderer() {
    if (device_) vkDeviceWaitIdle(device_);
    for (auto& frame : frames_) {
        for (auto& release : frame.garbage) release();
        frame.garbage.clear();
    }
    for (auto& release : pending_) release();
    if (imgui_ready_) ImGui_ImplVulkan_Shutdown();
}

std::string Renderer::device_name() const {
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical_, &props);
    return props.deviceName;
}

void Renderer::create_device() {
    if (!glfwVulkanSupported())
        throw VulkanError("no Vulkan loader or driver can draw windows on this system");
    uint32_t ext_count = 0;
    const char** exts = glfwGetRequiredInstanceExtensions(&ext_count);
    if (!exts) throw VulkanError("Vulkan has no window-surface support on this system");

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "rmvk";
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pApplicationInfo = &app;
    info.enabledExtensionCount = ext_count;
    info.ppEnabledExtensionNames = exts;
    VkInstance instance = VK_NULL_HANDLE;
    vk_check(vkCreateInstance(&info, nullptr, &instance), "vkCreateInstance (window)");
    instance_ = UniqueInstance(instance);

    VkSurfaceKHR surface = VK_NULL_HANDLE;
    vk_check(glfwCreateWindowSurface(instance, window_, nullptr, &surface),
             "glfwCreateWindowSurface");
    surface_ = UniqueSurface(instance, surface);

    uint32_t count = 0;
    vkEnumeratePhysicalDevices(instance, &count, nullptr);
    std::vector<VkPhysicalDevice> physicals(count);
    vkEnumeratePhysicalDevices(instance, &count, physicals.data());
    int best_score = -1;
    for (VkPhysicalDevice pd : physicals) {
        uint32_t qcount = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &qcount, nullptr);
        std::vector<VkQueueFamilyProperties> families(qcount);
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &qcount, families.data());
        for (uint32_t q = 0; q < qcount; ++q) {
            VkBool32 present = VK_FALSE;
            vkGetPhysicalDeviceSurfaceSupportKHR(pd, q, surface, &present);
            if (!(families[q].queueFlags & VK_QUEUE_GRAPHICS_BIT) || !present) continue;
            VkPhysicalDeviceProperties props;
            vkGetPhysicalDeviceProperties(pd, &props);
            int score = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 4
                        : props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 3
                                                                                     : 1;
            if (score > best_score) {
                best_score = score;
                physical_ = pd;
                queue_family_ = q;
            }
            break;
        }
    }
    if (!physical_)
        throw VulkanError("no Vulkan device can draw to this window (" + std::to_string(count) +
                          " device(s) found, none with a graphics queue that presents)");

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queue_info.queueFamilyIndex = queue_family_;
    queue_info.queueCount = 1;
    queue_info.pQueuePriorities = &priority;
    const char* device_exts[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
    VkDeviceCreateInfo dinfo{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dinfo.queueCreateInfoCount = 1;
    dinfo.pQueueCreateInfos = &queue_info;
    dinfo.enabledExtensionCount = 1;
    dinfo.ppEnabledExtensionNames = device_exts;
    VkDevice device = VK_NULL_HANDLE;
    vk_check(vkCreateDevice(physical_, &dinfo, nullptr, &device), "vkCreateDevice (window)");
    device_ = UniqueDevice(device);
    vkGetDeviceQueue(device, queue_family_, 0, &queue_);

    uint32_t fcount = 0;
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface, &fcount, nullptr);
    std::vector<VkSurfaceFormatKHR> formats(fcount);
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface, &fcount, formats.data());
    if (formats.empty()) throw VulkanError("the window surface offers no pixel format");
    format_ = formats[0];
    for (const auto& f : formats)
        if (f.format == VK_FORMAT_B8G8R8A8_UNORM || f.format == VK_FORMAT_R8G8B8A8_UNORM) {
            format_ = f;
            break;
        }

    // Swapchain images keep what was last drawn into them (load, not clear): only the part
    // that changed since is redrawn. An image never drawn into starts undefined and is drawn whole.
    auto make_pass = [&](bool fresh) {
        VkAttachmentDescription color{};
        color.format = format_.format;
        color.samples = VK_SAMPLE_COUNT_1_BIT;
        color.loadOp = fresh ? VK_ATTACHMENT_LOAD_OP_DONT_CARE : VK_ATTACHMENT_LOAD_OP_LOAD;
        color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
        color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
        color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
        color.initialLayout = fresh ? VK_IMAGE_LAYOUT_UNDEFINED : VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
        color.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
        VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
        VkSubpassDescription subpass{};
        subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
        subpass.colorAttachmentCount = 1;
        subpass.pColorAttachments = &ref;
        VkSubpassDependency dep{};
        dep.srcSubpass = VK_SUBPASS_EXTERNAL;
        dep.dstSubpass = 0;
        dep.srcStageMask =
            VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        dep.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;  // a screenshot read of the same image
        dep.dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
        dep.dstAccessMask =
            VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
        VkRenderPassCreateInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
        rp.attachmentCount = 1;
        rp.pAttachments = &color;
        rp.subpassCount = 1;
        rp.pSubpasses = &subpass;
        rp.dependencyCount = 1;
        rp.pDependencies = &dep;
        VkRenderPass pass = VK_NULL_HANDLE;
        vk_check(vkCreateRenderPass(device, &rp, nullptr, &pass), "vkCreateRenderPass");
        return UniqueRenderPass(device, pass);
    };
    render_pass_ = make_pass(false);
    fresh_pass_ = make_pass(true);

    for (auto& frame : frames_) {
        VkCommandPoolCreateInfo pinfo{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pinfo.queueFamilyIndex = queue_family_;
        VkCommandPool pool = VK_NULL_HANDLE;
        vk_check(vkCreateCommandPool(device, &pinfo, nullptr, &pool), "vkCreateCommandPool");
        frame.pool = UniqueCommandPool(device, pool);
        VkCommandBufferAllocateInfo ainfo{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ainfo.commandPool = pool;
        ainfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ainfo.commandBufferCount = 1;
        vk_check(vkAllocateCommandBuffers(device, &ainfo, &frame.cmd), "vkAllocateCommandBuffers");
        VkFenceCreateInfo finfo{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        finfo.flags = VK_FENCE_CREATE_SIGNALED_BIT;
        VkFence fence = VK_NULL_HANDLE;
        vk_check(vkCreateFence(device, &finfo, nullptr, &fence), "vkCreateFence");
        frame.fence = UniqueFence(device, fence);
        VkSemaphoreCreateInfo sinfo{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        VkSemaphore a = VK_NULL_HANDLE, r = VK_NULL_HANDLE;
        vk_check(vkCreateSemaphore(device, &sinfo, nullptr, &a), "vkCreateSemaphore");
        frame.acquired = UniqueSemaphore(device, a);
        vk_check(vkCreateSemaphore(device, &sinfo, nullptr, &r), "vkCreateSemaphore");
        frame.rendered = UniqueSemaphore(device, r);
    }

    // Room for ImGui's font and a few hundred feature-map / input textures.
    VkDescriptorPoolSize sizes[] = {{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 512}};
    VkDescriptorPoolCreateInfo dp{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dp.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    dp.maxSets = 512;
    dp.poolSizeCount = 1;
    dp.pPoolSizes = sizes;
    VkDescriptorPool dpool = VK_NULL_HANDLE;
    vk_check(vkCreateDescriptorPool(device, &dp, nullptr, &dpool), "vkCreateDescriptorPool");
    descriptor_pool_ = UniqueDescriptorPool(device, dpool);
}

void Renderer::create_swapchain() {
    VkSurfaceCapabilitiesKHR caps;
    vk_check(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical_, surface_, &caps),
             "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    extent_ = caps.currentExtent;
    if (extent_.width == std::numeric_limits<uint32_t>::max()) {
        extent_.width = std::clamp(static_cast<uint32_t>(w), caps.minImageExtent.width,
                                   caps.maxImageExtent.width);
        extent_.height = std::clamp(static_cast<uint32_t>(h), caps.minImageExtent.height,
                                    caps.maxImageExtent.height);
    }
    VkPresentModeKHR mode = VK_PRESENT_MODE_FIFO_KHR;
    if (!vsync_) {
        uint32_t mcount = 0;
        vkGetPhysicalDeviceSurfacePresentModesKHR(physical_, surface_, &mcount, nullptr);
        std::vector<VkPresentModeKHR> modes(mcount);
        vkGetPhysicalDeviceSurfacePresentModesKHR(physical_, surface_, &mcount, modes.data());
        for (auto m : modes)
            if (m == VK_PRESENT_MODE_IMMEDIATE_KHR || m == VK_PRESENT_MODE_MAILBOX_KHR) mode = m;
    }
    min_image_count_ = std::max(2u, caps.minImageCount);
    uint32_t image_count = min_image_count_ + 1;
    if (caps.maxImageCount > 0) image_count = std::min(image_count, caps.maxImageCount);

    VkSwapchainCreateInfoKHR info{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    info.surface = surface_;
    info.minImageCount = image_count;
    info.imageFormat = format_.format;
    info.imageColorSpace = format_.colorSpace;
    info.imageExtent = extent_;
    info.imageArrayLayers = 1;
    // TRANSFER_SRC so --screenshot can read the rendered image back.
    info.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    info.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    info.preTransform = caps.currentTransform;
    info.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
    info.presentMode = mode;
    info.clipped = VK_TRUE;
    info.oldSwapchain = swapchain_.get();
    VkSwapchainKHR swapchain = VK_NULL_HANDLE;
    vk_check(vkCreateSwapchainKHR(device_, &info, nullptr, &swapchain), "vkCreateSwapchainKHR");
    images_.clear();
    swapchain_ = UniqueSwapchain(device_.get(), swapchain);

    uint32_t count = 0;
    vkGetSwapchainImagesKHR(device_, swapchain, &count, nullptr);
    std::vector<VkImage> images(count);
    vkGetSwapchainImagesKHR(device_, swapchain, &count, images.data());
    for (VkImage image : images) {
        SwapImage si;
        si.image = image;
        VkImageViewCreateInfo vinfo{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vinfo.image = image;
        vinfo.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vinfo.format = format_.format;
        vinfo.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView view = VK_NULL_HANDLE;
        vk_check(vkCreateImageView(device_, &vinfo, nullptr, &view),
                 "vkCreateImageView (swapchain)");
        si.view = UniqueImageView(device_.get(), view);
        VkFramebufferCreateInfo fb{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fb.renderPass = render_pass_;
        fb.attachmentCount = 1;
        fb.pAttachments = &view;
        fb.width = extent_.width;
        fb.height = extent_.height;
        fb.layers = 1;
        VkFramebuffer framebuffer = VK_NULL_HANDLE;
        vk_check(vkCreateFramebuffer(device_, &fb, nullptr, &framebuffer), "vkCreateFramebuffer");
        si.framebuffer = UniqueFramebuffer(device_.get(), framebuffer);
        images_.push_back(std::move(si));
    }
}

void Renderer::recreate_swapchain() {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    if (w == 0 || h == 0) return;
    // Rare (window resize): waiting for idle is simpler than deferring every old view.
    vkDeviceWaitIdle(device_);
    create_swapchain();
    if (imgui_ready_) ImGui_ImplVulkan_SetMinImageCount(min_image_count_);
}

void Renderer::create_image_pipeline() {
    VkDevice device = device_;
    VkSamplerCreateInfo sinfo{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    // Nearest: feature-map pixels stay crisp squares when magnified.
    sinfo.magFilter = VK_FILTER_NEAREST;
    sinfo.minFilter = VK_FILTER_LINEAR;
    sinfo.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
    sinfo.addressModeU = sinfo.addressModeV = sinfo.addressModeW =
        VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
    sinfo.maxLod = 0;
    VkSampler sampler = VK_NULL_HANDLE;
    vk_check(vkCreateSampler(device, &sinfo, nullptr, &sampler), "vkCreateSampler");
    sampler_ = UniqueSampler(device, sampler);

    VkDescriptorSetLayoutBinding binding{};
    binding.binding = 0;
    binding.descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    binding.descriptorCount = 1;
    binding.stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
    VkDescriptorSetLayoutCreateInfo linfo{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    linfo.bindingCount = 1;
    linfo.pBindings = &binding;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    vk_check(vkCreateDescriptorSetLayout(device, &linfo, nullptr, &set_layout),
             "vkCreateDescriptorSetLayout");
    image_set_layout_ = UniqueSetLayout(device, set_layout);

    VkPipelineLayoutCreateInfo plinfo{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    plinfo.setLayoutCount = 1;
    plinfo.pSetLayouts = &set_layout;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    vk_check(vkCreatePipelineLayout(device, &plinfo, nullptr, &layout), "vkCreatePipelineLayout");
    image_layout_ = UniquePipelineLayout(device, layout);

    auto make_module = [&](const uint32_t* code, size_t bytes) {
        VkShaderModuleCreateInfo m{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        m.codeSize = bytes;
        m.pCode = code;
        VkShaderModule module = VK_NULL_HANDLE;
        vk_check(vkCreateShaderModule(device, &m, nullptr, &module),
                 "vkCreateShaderModule (image quad)");
        return UniqueShaderModule(device, module);
    };
    auto vert = make_module(kImageQuad_vert, sizeof(kImageQuad_vert));
    auto frag = make_module(kImageQuad_frag, sizeof(kImageQuad_frag));
    VkPipelineShaderStageCreateInfo stages[2]{};
    stages[0] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                 nullptr,
                 0,
                 VK_SHADER_STAGE_VERTEX_BIT,
                 vert,
                 "main",
                 nullptr};
    stages[1] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                 nullptr,
                 0,
                 VK_SHADER_STAGE_FRAGMENT_BIT,
                 frag,
                 "main",
                 nullptr};
    // One quad per instance: its screen rect and uv rect.
    VkVertexInputBindingDescription quad_binding{0, sizeof(ImageQuad),
                                                 VK_VERTEX_INPUT_RATE_INSTANCE};
    VkVertexInputAttributeDescription quad_attrs[2] = {{0, 0, VK_FORMAT_R32G32B32A32_SFLOAT, 0},
                                                       {1, 0, VK_FORMAT_R32G32B32A32_SFLOAT, 16}};
    VkPipelineVertexInputStateCreateInfo vin{
        VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
    vin.vertexBindingDescriptionCount = 1;
    vin.pVertexBindingDescriptions = &quad_binding;
    vin.vertexAttributeDescriptionCount = 2;
    vin.pVertexAttributeDescriptions = quad_attrs;
    VkPipelineInputAssemblyStateCreateInfo ia{
        VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
    ia.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP;
    VkPipelineViewportStateCreateInfo vp{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
    vp.viewportCount = 1;
    vp.scissorCount = 1;
    VkPipelineRasterizationStateCreateInfo rs{
        VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
    rs.polygonMode = VK_POLYGON_MODE_FILL;
    rs.cullMode = VK_CULL_MODE_NONE;
    rs.lineWidth = 1.0f;
    VkPipelineMultisampleStateCreateInfo ms{
        VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
    ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
    VkPipelineColorBlendAttachmentState blend{};
    blend.colorWriteMask = 0xF;
    VkPipelineColorBlendStateCreateInfo cb{
        VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
    cb.attachmentCount = 1;
    cb.pAttachments = &blend;
    VkDynamicState dyn[] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineDynamicStateCreateInfo ds{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
    ds.dynamicStateCount = 2;
    ds.pDynamicStates = dyn;
    VkGraphicsPipelineCreateInfo pinfo{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
    pinfo.stageCount = 2;
    pinfo.pStages = stages;
    pinfo.pVertexInputState = &vin;
    pinfo.pInputAssemblyState = &ia;
    pinfo.pViewportState = &vp;
    pinfo.pRasterizationState = &rs;
    pinfo.pMultisampleState = &ms;
    pinfo.pColorBlendState = &cb;
    pinfo.pDynamicState = &ds;
    pinfo.layout = layout;
    pinfo.renderPass = render_pass_;
    VkPipeline pipeline = VK_NULL_HANDLE;
    vk_check(vkCreateGraphicsPipelines(device, VK_NULL_HANDLE, 1, &pinfo, nullptr, &pipeline),
             "vkCreateGraphicsPipelines (image quad)");
    image_pipeline_ = UniquePipeline(device, pipeline);
}

void Renderer::init_imgui() {
    ImGui_ImplVulkan_InitInfo info{};
    info.Instance = instance_;
    info.PhysicalDevice = physical_;
    info.Device = device_;
    info.QueueFamily = queue_family_;
    info.Queue = queue_;
    info.DescriptorPool = descriptor_pool_;
    info.Subpass = 0;
    info.MinImageCount = min_image_count_;
    info.ImageCount = static_cast<uint32_t>(images_.size());
    info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    info.CheckVkResultFn = imgui_check;
    if (!ImGui_ImplVulkan_Init(&info, render_pass_))
        throw VulkanError("ImGui Vulkan backend failed to start");
    imgui_ready_ = true;
    submit_now([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
    ImGui_ImplVulkan_DestroyFontUploadObjects();
}

void Renderer::submit_now(const std::function<void(VkCommandBuffer)>& record) {
    VkCommandPoolCreateInfo pinfo{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pinfo.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
    pinfo.queueFamilyIndex = queue_family_;
    VkCommandPool raw_pool = VK_NULL_HANDLE;
    vk_check(vkCreateCommandPool(device_, &pinfo, nullptr, &raw_pool),
             "vkCreateCommandPool (upload)");
    auto pool = UniqueCommandPool(device_.get(), raw_pool);
    VkCommandBufferAllocateInfo ainfo{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ainfo.commandPool = pool;
    ainfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ainfo.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    vk_check(vkAllocateCommandBuffers(device_, &ainfo, &cmd), "vkAllocateCommandBuffers (upload)");
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_check(vkBeginCommandBuffer(cmd, &begin), "vkBeginCommandBuffer (upload)");
    record(cmd);
    vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer (upload)");
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    vk_check(vkQueueSubmit(queue_, 1, &submit, VK_NULL_HANDLE), "vkQueueSubmit (upload)");
    vk_check(vkQueueWaitIdle(queue_), "vkQueueWaitIdle (upload)");
}

bool Renderer::begin_frame() {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    if (w == 0 || h == 0) return false;
    if (static_cast<uint32_t>(w) != extent_.width || static_cast<uint32_t>(h) != extent_.height)
        recreate_swapchain();
    image_draws_.clear();
    image_quads_.clear();
    image_items_.clear();
    ImGui_ImplVulkan_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    return true;
}

void Renderer::defer_release(std::function<void()> release) {
    pending_.push_back(std::move(release));
}

void Renderer::draw_image(ImDrawList* list, const Texture& texture, ImVec2 p0, ImVec2 p1,
                          ImVec2 uv0, ImVec2 uv1) {
    draw_images(list, texture, {{p0.x, p0.y, p1.x, p1.y, uv0.x, uv0.y, uv1.x, uv1.y}});
}

void Renderer::draw_images(ImDrawList* list, const Texture& texture,
                           const std::vector<ImageQuad>& quads) {
    if (quads.empty()) return;
    const ImGuiIO& io = ImGui::GetIO();
    ImageDraw& d = image_draws_.emplace_back();
    d.renderer = this;
    d.set = texture.descriptor_set();
    d.first = static_cast<uint32_t>(image_quads_.size() / 8);
    d.count = static_cast<uint32_t>(quads.size());
    // The callback's clip rectangle is the list's current one.
    ImVec2 clip0 = list->GetClipRectMin(), clip1 = list->GetClipRectMax();
    for (const ImageQuad& q : quads) {
        DamageItem item{0, std::max(q.x0, clip0.x), std::max(q.y0, clip0.y),
                        std::min(q.x1, clip1.x), std::min(q.y1, clip1.y)};
        if (item.x1 >= item.x0 && item.y1 >= item.y0) {
            float key[12] = {q.x0, q.y0, q.x1,    q.y1,    q.u0,    q.v0,
                             q.u1, q.v1, clip0.x, clip0.y, clip1.x, clip1.y};
            item.hash = hash_bytes(key, sizeof(key), texture.serial());
            image_items_[list].push_back(item);
        }
        float v[8] = {q.x0 / io.DisplaySize.x * 2.0f - 1.0f,
                      q.y0 / io.DisplaySize.y * 2.0f - 1.0f,
                      q.x1 / io.DisplaySize.x * 2.0f - 1.0f,
                      q.y1 / io.DisplaySize.y * 2.0f - 1.0f,
                      q.u0,
                      q.v0,
                      q.u1,
                      q.v1};
        image_quads_.insert(image_quads_.end(), v, v + 8);
    }
    list->AddCallback(&Renderer::image_callback, &d);
    list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

DamageRect Renderer::find_damage(ImDrawData* draw_data) {
    return damage_.update(*draw_data, image_items_, int(extent_.width), int(extent_.height));
}

void Renderer::draw_into_image(Frame& frame, ImDrawData* draw_data, DamageRect damage, bool fresh) {
    if (damage.empty()) return;
    VkRect2D area{{damage.x0, damage.y0},
                  {uint32_t(damage.x1 - damage.x0), uint32_t(damage.y1 - damage.y0)}};
    costs_.redrawn_pixels += double(area.extent.width) * double(area.extent.height);
    VkRenderPassBeginInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    rp.renderPass = fresh ? fresh_pass_ : render_pass_;
    rp.framebuffer = images_[image_index_].framebuffer;
    rp.renderArea = area;
    vkCmdBeginRenderPass(frame.cmd, &rp, VK_SUBPASS_CONTENTS_INLINE);
    VkClearAttachment clear{VK_IMAGE_ASPECT_COLOR_BIT, 0, {}};
    const ImVec4& bg = theme::kBackground;  // the only full-window fill (see theme.hpp)
    clear.clearValue.color = {{bg.x, bg.y, bg.z, 1.0f}};
    VkClearRect clear_rect{area, 0, 1};
    vkCmdClearAttachments(frame.cmd, 1, &clear, 1, &clear_rect);
    // Everything is drawn, clipped to the damage: outside it the image already holds the
    // same pixels. The clip rectangles are put back afterwards.
    fb_scale_x_ = draw_data->FramebufferScale.x;
    fb_scale_y_ = draw_data->FramebufferScale.y;
    ImVec4 keep(float(damage.x0) / fb_scale_x_, float(damage.y0) / fb_scale_y_,
                float(damage.x1) / fb_scale_x_, float(damage.y1) / fb_scale_y_);
    std::vector<ImVec4> clips;
    for (int l = 0; l < draw_data->CmdListsCount; ++l)
        for (ImDrawCmd& cmd : draw_data->CmdLists[l]->CmdBuffer) {
            clips.push_back(cmd.ClipRect);
            cmd.ClipRect = {std::max(cmd.ClipRect.x, keep.x), std::max(cmd.ClipRect.y, keep.y),
                            std::min(cmd.ClipRect.z, keep.z), std::min(cmd.ClipRect.w, keep.w)};
        }
    recording_ = frame.cmd;
    upload_image_quads(frame);
    ImGui_ImplVulkan_RenderDrawData(draw_data, frame.cmd);
    recording_ = VK_NULL_HANDLE;
    instance_buffer_ = VK_NULL_HANDLE;
    vkCmdEndRenderPass(frame.cmd);
    size_t i = 0;
    for (int l = 0; l < draw_data->CmdListsCount; ++l)
        for (ImDrawCmd& cmd : draw_data->CmdLists[l]->CmdBuffer) cmd.ClipRect = clips[i++];
}

OwnedBuffer Renderer::read_image(VkCommandBuffer cmd) {
    VkDeviceSize bytes = VkDeviceSize(extent_.width) * extent_.height * 4;
    OwnedBuffer out = make_host_buffer(device_, physical_, bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    VkImageMemoryBarrier barrier{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    barrier.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    barrier.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    barrier.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    barrier.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    barrier.srcQueueFamilyIndex = barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    barrier.image = images_[image_index_].image;
    barrier.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &barrier);
    VkBufferImageCopy region{};
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {extent_.width, extent_.height, 1};
    vkCmdCopyImageToBuffer(cmd, barrier.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, out.buffer, 1,
                           &region);
    barrier.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    barrier.dstAccessMask = 0;
    barrier.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    barrier.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                         0, 0, nullptr, 0, nullptr, 1, &barrier);
    return out;
}

std::vector<uint8_t> Renderer::mapped_bytes(const OwnedBuffer& buffer) {
    void* mapped = nullptr;
    vk_check(vkMapMemory(device_, buffer.memory, 0, buffer.size, 0, &mapped),
             "vkMapMemory (read-back)");
    std::vector<uint8_t> out(static_cast<uint8_t*>(mapped),
                             static_cast<uint8_t*>(mapped) + buffer.size);
    vkUnmapMemory(device_, buffer.memory);
    return out;
}

void Renderer::upload_image_quads(Frame& frame) {
    VkDeviceSize bytes = image_quads_.size() * sizeof(float);
    if (bytes == 0) return;
    if (frame.instances.size < bytes) {
        // This frame's fence has signalled: the old buffer is no longer read.
        frame.instances =
            make_host_buffer(device_, physical_, std::max<VkDeviceSize>(bytes * 2, 64 * 1024),
                             VK_BUFFER_USAGE_VERTEX_BUFFER_BIT);
        vk_check(vkMapMemory(device_, frame.instances.memory, 0, frame.instances.size, 0,
                             &frame.instances_mapped),
                 "vkMapMemory (image quads)");
    }
    std::memcpy(frame.instances_mapped, image_quads_.data(), bytes);
    instance_buffer_ = frame.instances.buffer;
}

void Renderer::image_callback(const ImDrawList*, const ImDrawCmd* cmd) {
    const auto* draw = static_cast<const ImageDraw*>(cmd->UserCallbackData);
    Renderer& r = *draw->renderer;
    VkCommandBuffer cb = r.recording_;
    float sx = r.fb_scale_x_, sy = r.fb_scale_y_;
    VkRect2D scissor;
    scissor.offset.x = std::max(0, static_cast<int>(cmd->ClipRect.x * sx));
    scissor.offset.y = std::max(0, static_cast<int>(cmd->ClipRect.y * sy));
    scissor.extent.width =
        static_cast<uint32_t>(std::max(0.0f, (cmd->ClipRect.z - cmd->ClipRect.x) * sx));
    scissor.extent.height =
        static_cast<uint32_t>(std::max(0.0f, (cmd->ClipRect.w - cmd->ClipRect.y) * sy));
    if (scissor.extent.width == 0 || scissor.extent.height == 0) return;
    VkViewport viewport{
        0, 0, static_cast<float>(r.extent_.width), static_cast<float>(r.extent_.height), 0, 1};
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, r.image_pipeline_);
    vkCmdSetViewport(cb, 0, 1, &viewport);
    vkCmdSetScissor(cb, 0, 1, &scissor);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, r.image_layout_, 0, 1, &draw->set,
                            0, nullptr);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cb, 0, 1, &r.instance_buffer_, &offset);
    vkCmdDraw(cb, 4, draw->count, 0, draw->first);
}

bool Renderer::end_frame(ImDrawData* draw_data, Screenshot* capture) {
    Frame& frame = frames_[frame_index_];
    VkFence fence = frame.fence;
    VkSemaphore acquired_sem = frame.acquired, rendered_sem = frame.rendered;
    auto clock = std::chrono::steady_clock::now();
    vk_check(vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    for (auto& release : frame.garbage) release();
    frame.garbage.clear();
    lap(clock, costs_.wait_ms);

    VkResult acquired = vkAcquireNextImageKHR(device_, swapchain_, UINT64_MAX, frame.acquired,
                                              VK_NULL_HANDLE, &image_index_);
    lap(clock, costs_.acquire_ms);
    if (acquired == VK_ERROR_OUT_OF_DATE_KHR) {
        recreate_swapchain();
        return false;
    }
    if (acquired != VK_SUBOPTIMAL_KHR) vk_check(acquired, "vkAcquireNextImageKHR");
    vk_check(vkResetFences(device_, 1, &fence), "vkResetFences");
    vk_check(vkResetCommandPool(device_, frame.pool, 0), "vkResetCommandPool");

    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_check(vkBeginCommandBuffer(frame.cmd, &begin), "vkBeginCommandBuffer");
    // This image last showed frame `drawn_at`: redraw what changed in every frame since.
    history_.push_front(find_damage(draw_data));
    if (history_.size() > kDamageHistory) history_.pop_back();
    ++frame_serial_;
    SwapImage& target = images_[image_index_];
    DamageRect whole{0, 0, int(extent_.width), int(extent_.height)};
    uint64_t age = frame_serial_ - target.drawn_at;
    bool fresh = target.drawn_at == 0 || age > history_.size();
    DamageRect damage = fresh ? whole : DamageRect{};
    for (size_t i = 0; !fresh && i < age; ++i) damage = unite(damage, history_[i]);
    target.drawn_at = frame_serial_;
    draw_into_image(frame, draw_data, damage, fresh);
    OwnedBuffer partial;
    if (capture && check_redraw_) {
        // Keep the partly redrawn picture, then draw the whole window over it to compare.
        partial = read_image(frame.cmd);
        draw_into_image(frame, draw_data, whole, false);
    }
    OwnedBuffer readback;
    if (capture) readback = read_image(frame.cmd);
    vk_check(vkEndCommandBuffer(frame.cmd), "vkEndCommandBuffer");
    lap(clock, costs_.record_ms);

    VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.waitSemaphoreCount = 1;
    submit.pWaitSemaphores = &acquired_sem;
    submit.pWaitDstStageMask = &wait_stage;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &frame.cmd;
    submit.signalSemaphoreCount = 1;
    submit.pSignalSemaphores = &rendered_sem;
    vk_check(vkQueueSubmit(queue_, 1, &submit, fence), "vkQueueSubmit");
    // Objects released while this frame was built may still be used by earlier frames; all of
    // those finish before this frame's fence signals.
    for (auto& release : pending_) frame.garbage.push_back(std::move(release));
    pending_.clear();
    lap(clock, costs_.submit_ms);

    if (capture) {
        vk_check(vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX),
                 "vkWaitForFences (screenshot)");
        capture->width = static_cast<int>(extent_.width);
        capture->height = static_cast<int>(extent_.height);
        capture->rgba = mapped_bytes(readback);
        if (partial.buffer) {
            std::vector<uint8_t> part = mapped_bytes(partial);
            capture->redraw_mismatch = 0;
            for (size_t i = 0; i < part.size(); i += 4)
                capture->redraw_mismatch += std::memcmp(&part[i], &capture->rgba[i], 3) != 0;
        }
        bool bgr =
            format_.format == VK_FORMAT_B8G8R8A8_UNORM || format_.format == VK_FORMAT_B8G8R8A8_SRGB;
        for (size_t i = 0; i < capture->rgba.size(); i += 4) {
            if (bgr) std::swap(capture->rgba[i], capture->rgba[i + 2]);
            capture->rgba[i + 3] = 255;
        }
    }

    VkPresentInfoKHR present{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    present.waitSemaphoreCount = 1;
    present.pWaitSemaphores = &rendered_sem;
    present.swapchainCount = 1;
    VkSwapchainKHR swapchain = swapchain_;
    present.pSwapchains = &swapchain;
    present.pImageIndices = &image_index_;
    if (capture) clock = std::chrono::steady_clock::now();  // the read-back is not a frame cost
    VkResult presented = vkQueuePresentKHR(queue_, &present);
    lap(clock, costs_.present_ms);
    ++costs_.frames;
    frame_index_ = (frame_index_ + 1) % frames_.size();
    if (presented == VK_ERROR_OUT_OF_DATE_KHR || presented == VK_SUBOPTIMAL_KHR) {
        recreate_swapchain();
        return presented == VK_SUBOPTIMAL_KHR;  // suboptimal frames are still shown
    }
    vk_check(presented, "vkQueuePresentKHR");
    return true;
}

}  // namespace rmvk::ui
